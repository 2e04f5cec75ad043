"""The training objectives by name: Pyro's ELBOs with the library's facts, and the library's
own objectives.

Each is a Pyro :class:`~pyro.infer.ELBO` usable with :class:`~pyro.infer.SVI`, and, called as
``objective(model, guide)``, an :class:`~torch.nn.Module` whose output is a loss to
``backward()`` under a torch optimizer (see :mod:`ppl_vae.infer.base`). Adding an objective
means writing its class (with its facts) and listing it in :data:`OBJECTIVE_CLASSES`.
"""

from __future__ import annotations

from pyro.infer import ELBO, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

from ppl_vae.infer.base import Objective, combine
from ppl_vae.infer.free_bits import FreeBitsELBO
from ppl_vae.infer.iwae import IWAE
from ppl_vae.infer.wake_sleep import ReweightedWakeSleep, WakeSleep


class MonteCarloELBO(Trace_ELBO, Objective):
    """``"trace"``: :class:`~pyro.infer.Trace_ELBO`, a Monte Carlo estimate of the whole ELBO
    (score-function terms where a site is not reparameterized)."""

    name = "trace"
    annealable = True
    elbo_climbing = True


class MeanFieldELBO(TraceMeanField_ELBO, Objective):
    """``"meanfield"``: :class:`~pyro.infer.TraceMeanField_ELBO`, with the KL term computed
    analytically where :func:`~pyro.distributions.kl.kl_divergence` knows it (else from the
    sample). Reparameterized guides only."""

    name = "meanfield"
    annealable = True
    elbo_climbing = True
    requires = ("reparameterized",)


class NVIL(TraceGraph_ELBO, Objective):
    """``"nvil"``: :class:`~pyro.infer.TraceGraph_ELBO`: score-function gradients for
    non-reparameterized latents, with the baselines the guide declares (Mnih and Gregor, 2014,
    "Neural Variational Inference and Learning in Belief Networks")."""

    name = "nvil"
    annealable = True
    elbo_climbing = True

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """The negative ELBO, carrying the gradient of TraceGraph_ELBO's surrogate (the
        score-function terms with their baselines, and the baselines' own losses)."""
        elbo, surrogate = self._loss_and_surrogate_loss(model, guide, args, kwargs)
        return combine(-elbo, surrogate)

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        return Objective.loss_and_grads(self, model, guide, *args, **kwargs)


#: the objectives the trainer and the command line offer, by name
OBJECTIVE_CLASSES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (
        MonteCarloELBO,
        MeanFieldELBO,
        NVIL,
        WakeSleep,
        ReweightedWakeSleep,
        FreeBitsELBO,
        IWAE,
    )
}
OBJECTIVES = tuple(OBJECTIVE_CLASSES)
ANNEALABLE = tuple(n for n, c in OBJECTIVE_CLASSES.items() if c.annealable)
ELBO_CLIMBING = tuple(n for n, c in OBJECTIVE_CLASSES.items() if c.elbo_climbing)


def objective_class(name: str) -> type[Objective]:
    """The objective class called ``name``."""
    if name not in OBJECTIVE_CLASSES:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
    return OBJECTIVE_CLASSES[name]


def make_objective(
    name: str,
    num_particles: int = 1,
    free_bits: float = 0.5,
    vectorize_particles: bool = False,
) -> ELBO:
    """The objective ``name``, built from the trainer's options.

    * ``"trace"``: :class:`MonteCarloELBO` (:class:`~pyro.infer.Trace_ELBO`).
    * ``"meanfield"``: :class:`MeanFieldELBO` (:class:`~pyro.infer.TraceMeanField_ELBO`).
    * ``"nvil"``: :class:`NVIL` (:class:`~pyro.infer.TraceGraph_ELBO`).
    * ``"wake-sleep"``: :class:`~ppl_vae.infer.wake_sleep.WakeSleep` (Hinton et al., 1995),
      with ``num_particles`` dreams per step.
    * ``"rws"``: :class:`~ppl_vae.infer.wake_sleep.ReweightedWakeSleep` with ``num_particles``
      K >= 2 (Bornschein and Bengio, 2015), with weights normalized per datapoint.
    * ``"free-bits"``: :class:`~ppl_vae.infer.free_bits.FreeBitsELBO` with ``free_bits`` nats
      per latent dimension (Kingma et al., 2016).
    * ``"iwae"``: :class:`~ppl_vae.infer.iwae.IWAE`, the importance weighted bound with
      ``num_particles`` K >= 1 samples per datapoint (Burda et al., 2016). It is per datapoint
      only when every sample site of the model and guide is inside the data plate: check a
      pair with :func:`ppl_vae.infer.iwae.check_iwae` before training.
      ``vectorize_particles`` draws the K particles in one pass, for models that broadcast
      over a leading particle dimension (NVDM, not SentenceVAE).

    The ELBOs honour KL annealing through :func:`ppl_vae.ops.annealing.kl_annealing`; the
    wake-sleep objectives and IWAE, which form no KL term, refuse a KL weight other than 1.
    """
    return objective_class(name).from_options(num_particles, free_bits, vectorize_particles)


def check_combination(guide: type, objective: str) -> None:
    """Raise ``ValueError`` with the reason if ``objective`` cannot train guides of class
    ``guide`` (read from the facts of both classes)."""
    reason = objective_class(objective).refusal(guide)
    if reason is not None:
        raise ValueError(
            f"the {guide.name} guide cannot be trained with the {objective} objective: {reason}"
        )
