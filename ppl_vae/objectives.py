"""SVI objectives by name."""

from __future__ import annotations

from pyro.infer import ELBO, Trace_ELBO, TraceMeanField_ELBO

OBJECTIVES = ("trace", "meanfield")


def make_objective(name: str, num_particles: int = 1) -> ELBO:
    """The ELBO estimator ``name``.

    * ``"trace"``: :class:`~pyro.infer.Trace_ELBO`, a Monte Carlo estimate of the whole ELBO.
    * ``"meanfield"``: :class:`~pyro.infer.TraceMeanField_ELBO`, with the KL term computed
      analytically where :func:`~pyro.distributions.kl.kl_divergence` knows it.

    Both honour KL annealing through :func:`ppl_vae.annealing.kl_annealing`.
    """
    kwargs = {"num_particles": num_particles, "vectorize_particles": False}
    if name == "trace":
        return Trace_ELBO(**kwargs)
    if name == "meanfield":
        return TraceMeanField_ELBO(**kwargs)
    raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
