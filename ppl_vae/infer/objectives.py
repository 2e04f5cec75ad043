"""The training objectives by name: Pyro's ELBOs with the library's facts, and the library's
own objectives.

Each is a Pyro :class:`~pyro.infer.ELBO` usable with :class:`~pyro.infer.SVI`, and, called as
``objective(model, guide)``, an :class:`~torch.nn.Module` whose output is a loss to
``backward()`` under a torch optimizer (see :mod:`ppl_vae.infer.base`). Adding an objective
means writing its class (with its facts) and listing it in :data:`OBJECTIVE_CLASSES`.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions.kl import kl_divergence
from pyro.infer import ELBO, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO
from pyro.poutine.runtime import _PYRO_STACK
from torch.jit import is_tracing

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.infer.base import Objective, combine
from ppl_vae.infer.contrastive_divergence import ContrastiveDivergence
from ppl_vae.infer.free_bits import FreeBitsELBO
from ppl_vae.infer.iwae import IWAE
from ppl_vae.infer.wake_sleep import ReweightedWakeSleep, WakeSleep
from ppl_vae.models import BagOfWordsModel


class MonteCarloELBO(Trace_ELBO, Objective):
    """``"trace"``: :class:`~pyro.infer.Trace_ELBO`, a Monte Carlo estimate of the whole ELBO
    (score-function terms where a site is not reparameterized)."""

    name = "trace"
    annealable = True
    elbo_climbing = True


class MeanFieldELBO(TraceMeanField_ELBO, Objective):
    """``"meanfield"``: :class:`~pyro.infer.TraceMeanField_ELBO`, with the KL term computed
    analytically where :func:`~pyro.distributions.kl.kl_divergence` knows it (else from the
    sample). Reparameterized guides only.

    **Without traces, for the document VAE.** In its module form, under Pyro's
    ``module_local_params`` (the trainer's setting), a pair of a bag-of-words model that keeps
    :class:`~ppl_vae.models.BagOfWordsModel`'s ``forward`` and a guide that keeps
    :class:`~ppl_vae.guides.DiagonalGaussianGuide`'s (NVDM with the diagonal guides), called
    on ``(x[, beta])`` outside any other Pyro handler, is scored by :meth:`closed_form_loss`:
    the same distributions, draws and arithmetic, in the same order, as
    ``TraceMeanField_ELBO`` on the traces, without recording them. The loss and gradients
    are the traced ones (tested to equality, by value and by gradient). Pyro's own path runs
    in every other case: ``SVI`` with the param store, other models and guides, a tensor KL
    weight, JIT, an enclosing ``poutine`` handler, or a subclass with its own ``forward``.
    """

    name = "meanfield"
    annealable = True
    elbo_climbing = True
    requires = ("reparameterized",)

    def differentiable_loss(self, model, guide, *args, **kwargs):
        beta = _closed_form_call(model, guide, args, kwargs)
        if beta is None:
            return super().differentiable_loss(model, guide, *args, **kwargs)
        return self.closed_form_loss(model, guide, args[0], beta)

    def closed_form_loss(self, model, guide, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """``-ELBO`` of the documents ``x`` for a model with ``prior`` and ``likelihood`` and a
        guide whose ``q(z | x)`` is ``Normal(*encode(x))``, with the KL weighted by ``beta``:
        :meth:`~pyro.infer.TraceMeanField_ELBO.differentiable_loss`'s computation, particle by
        particle, guide before model, without traces. Where the KL has no closed form (a
        mixture prior) it is ``log q(z) - log p(z)`` at the particle's draw, Pyro's fallback."""
        loss = 0.0
        for _ in range(self.num_particles):
            loc, scale = guide.encode(x)
            q = dist.Normal(loc, scale).to_event(1)
            z = q.rsample()
            total_count = x.sum(-1)
            prior = model.prior(x.shape[0], total_count)
            log_lik = model.likelihood(z, total_count).log_prob(x).sum()
            try:
                kl = kl_divergence(q, prior)
            except NotImplementedError:  # e.g. a mixture prior: from the draw, as Pyro does
                kl = q.log_prob(z) - prior.log_prob(z)
            if beta != 1.0:
                kl = kl * beta
            elbo = 0 - kl.sum()
            elbo = elbo + log_lik
            loss = loss + -elbo / self.num_particles
        return loss


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


def _closed_form_call(model, guide, args: tuple, kwargs: dict) -> float | None:
    """The KL weight if :class:`MeanFieldELBO` may score this call without traces, else None."""
    if not pyro.settings.get("module_local_params") or _PYRO_STACK or is_tracing():
        return None
    if not (
        getattr(guide, "closed_form_gaussian", False)
        and type(guide).forward is DiagonalGaussianGuide.forward
        and isinstance(model, BagOfWordsModel)
        and type(model).forward is BagOfWordsModel.forward
    ):
        return None
    if not args or len(args) > 2 or set(kwargs) - {"annealing_factor"}:
        return None
    if len(args) == 2 and kwargs:
        return None
    beta = args[1] if len(args) == 2 else kwargs.get("annealing_factor", 1.0)
    x = args[0]
    if not isinstance(x, torch.Tensor) or isinstance(beta, torch.Tensor) or not beta > 0:
        return None  # generation, a tensor weight (JIT), beta = 0 (masked): Pyro's path
    return float(beta)


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
        ContrastiveDivergence,
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
    **options,
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

    * ``"cd"``: :class:`~ppl_vae.infer.contrastive_divergence.ContrastiveDivergence` with
      ``cd_steps`` Gibbs steps (Hinton, 2002), for the Replicated Softmax.

    ``options`` are config fields that some objectives take (each class lists its own in
    :attr:`~ppl_vae.infer.base.Objective.config_options`); the others ignore them.

    The ELBOs honour KL annealing through :func:`ppl_vae.ops.annealing.kl_annealing`; the
    wake-sleep objectives, IWAE and CD, which form no KL term, refuse a KL weight other than 1.
    """
    cls = objective_class(name)
    own = {key: options[key] for key in cls.config_options if key in options}
    return cls.from_options(num_particles, free_bits, vectorize_particles, **own)


def check_combination(guide: type, objective: str) -> None:
    """Raise ``ValueError`` with the reason if ``objective`` cannot train guides of class
    ``guide`` (read from the facts of both classes)."""
    reason = objective_class(objective).refusal(guide)
    if reason is not None:
        raise ValueError(
            f"the {guide.name} guide cannot be trained with the {objective} objective: {reason}"
        )
