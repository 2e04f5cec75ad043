"""Training objectives by name, all usable with :class:`~pyro.infer.SVI`."""

from __future__ import annotations

from pyro.infer import ELBO, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

from ppl_vae.free_bits import FreeBitsELBO
from ppl_vae.wake_sleep import ReweightedWakeSleep, WakeSleep

OBJECTIVES = ("trace", "meanfield", "nvil", "wake-sleep", "rws", "free-bits")
ANNEALABLE = ("trace", "meanfield", "nvil", "free-bits")


def make_objective(name: str, num_particles: int = 1, free_bits: float = 0.5) -> ELBO:
    """The objective ``name``.

    * ``"trace"``: :class:`~pyro.infer.Trace_ELBO`, a Monte Carlo estimate of the whole ELBO.
    * ``"meanfield"``: :class:`~pyro.infer.TraceMeanField_ELBO`, with the KL term computed
      analytically where :func:`~pyro.distributions.kl.kl_divergence` knows it.
    * ``"nvil"``: :class:`~pyro.infer.TraceGraph_ELBO`: score-function gradients for discrete
      latents, with the baselines the guide declares (Mnih and Gregor, 2014).
    * ``"wake-sleep"``: :class:`~ppl_vae.wake_sleep.WakeSleep` (Hinton et al., 1995).
    * ``"rws"``: :class:`~ppl_vae.wake_sleep.ReweightedWakeSleep` with ``num_particles`` K
      (Bornschein and Bengio, 2015), with weights normalized per datapoint.
    * ``"free-bits"``: :class:`~ppl_vae.free_bits.FreeBitsELBO` with ``free_bits`` nats per
      latent dimension (Kingma et al., 2016).

    The ELBOs honour KL annealing through :func:`ppl_vae.annealing.kl_annealing`; the wake-sleep
    objectives refuse a KL weight other than 1.
    """
    kwargs = {"num_particles": num_particles, "vectorize_particles": False}
    if name == "trace":
        return Trace_ELBO(**kwargs)
    if name == "meanfield":
        return TraceMeanField_ELBO(**kwargs)
    if name == "nvil":
        return TraceGraph_ELBO(**kwargs)
    if name == "wake-sleep":
        return WakeSleep(sleep_particles=num_particles)
    if name == "free-bits":
        return FreeBitsELBO(free_bits, num_particles)
    if name == "rws":
        return ReweightedWakeSleep(num_particles=max(2, num_particles))
    raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
