r"""The importance weighted autoencoder bound, and what it requires of a model and guide.

Burda, Grosse and Salakhutdinov (2016), "Importance Weighted Autoencoders", ICLR:

.. math::
    \mathcal L_K(x) = \mathbb E_{z_1, \ldots, z_K \sim q(z \mid x)}
    \log \frac1K \sum_{k=1}^K \frac{p(x, z_k)}{q(z_k \mid x)},

a lower bound on ``log p(x)`` that equals the ELBO for K = 1 and rises towards ``log p(x)`` as K
grows. It is Renyi's alpha-divergence bound at ``alpha = 0`` (Li and Turner, 2016, "Renyi
Divergence Variational Inference", NeurIPS), which :class:`pyro.infer.RenyiELBO` implements.

What :class:`~pyro.infer.RenyiELBO` (Pyro 1.9.2) computes, and so what it requires:

* **Every sample site inside the data plate.** For each particle it sums every site's
  ``log_prob`` over the plates that are *not* shared by all the model's sample sites and keeps
  the dims of the shared ones, then takes ``logsumexp`` over the K particles and sums what is
  left. The bound is therefore per datapoint (one ``logsumexp`` per item, as Burda et al.
  define it) only when the data plate encloses every sample site, latent and observed. A site
  outside it (a global latent, say) makes the plate non-shared, so the whole batch gets one
  weight per particle: a valid but much looser bound on ``log p(batch)`` that tends to the
  ELBO as the batch grows. :func:`check_sites_in_plate` tests for this.
  :class:`~ppl_vae.models.NVDM` (plate ``"documents"``) and :class:`~ppl_vae.models.
  SentenceVAE` (plate ``"sentences"``) qualify with their Gaussian guides: their only sample
  sites are ``"z"`` and ``"x"``, inside the plate; ``pyro.module`` adds only param sites.
* **Reparameterized guide sites.** For a site without ``rsample`` the score-function term has
  the coefficient ``alpha / (1 - alpha)``, which is 0 at ``alpha = 0``: the guide then gets no
  gradient at all and its baselines are ignored (so the :class:`~ppl_vae.guides.
  BernoulliGuide` of the :class:`~ppl_vae.models.SigmoidBeliefNetwork` would never learn;
  use ``"rws"`` there).
* **Unscaled sites.** The log weights enter a ``logsumexp``, so a ``poutine.scale`` (KL
  annealing) or a subsampled plate's ``N / B`` does not weight a KL term, which the bound does
  not have, but distorts every weight. :class:`IWAE` refuses an ``annealing_factor`` other
  than 1; the data plate must not subsample.
* ``vectorize_particles=True`` runs the K particles as one batch in an extra outermost plate,
  which needs a model and guide that broadcast over a leading particle dimension, and a
  ``max_plate_nesting`` (our models have one plate; without it Pyro guesses it by running the
  model once more). NVDM broadcasts; SentenceVAE does not (its LSTM takes ``(B, T)`` batches),
  so it needs ``vectorize_particles=False``: K sequential passes.

:func:`check_iwae` checks the first three on one trace of the model and guide; call it once,
e.g. on the first batch, before training with ``"iwae"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from pyro import poutine
from pyro.infer import RenyiELBO
from pyro.infer.util import get_dependent_plate_dims, is_identically_zero, torch_sum
from pyro.poutine.util import site_is_subsample

from ppl_vae.infer.base import Objective, combine
from ppl_vae.ops.traces import SiteOutsidePlateError, data_plate


class IWAE(Objective, RenyiELBO):
    """The IWAE bound with K = ``num_particles`` importance samples per datapoint:
    :class:`~pyro.infer.RenyiELBO` with ``alpha = 0``. See the module's notes for what it
    requires of the model and guide.

    :param num_particles: K >= 1; K = 1 is the ELBO (:class:`~pyro.infer.Trace_ELBO`).
    :param vectorize_particles: draw the K particles in one vectorized pass.
    :param max_plate_nesting: the models' plate depth, needed to vectorize; guessed if omitted.
    """

    name = "iwae"
    elbo_climbing = True
    requires = ("reparameterized",)

    @classmethod
    def from_options(cls, num_particles=1, free_bits=0.5, vectorize_particles=False):
        return cls(num_particles, vectorize_particles=vectorize_particles)

    def __init__(
        self,
        num_particles: int = 1,
        vectorize_particles: bool = False,
        max_plate_nesting: int | float = float("inf"),
    ) -> None:
        if num_particles < 1:
            raise ValueError(f"IWAE needs num_particles >= 1, got {num_particles}")
        super().__init__(
            alpha=0,
            num_particles=num_particles,
            max_plate_nesting=max_plate_nesting,
            vectorize_particles=vectorize_particles,
        )

    def loss(self, model, guide, *args, **kwargs) -> float:
        _check_no_annealing(kwargs)
        return super().loss(model, guide, *args, **kwargs)

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """``-L_K`` summed over the batch, carrying RenyiELBO's gradient at ``alpha = 0``: the
        reparameterized gradient of each particle's log weight, weighted by its normalized
        importance weight within its datapoint."""
        _check_no_annealing(kwargs)
        log_w, surrogate = [], []
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            sum_dims = get_dependent_plate_dims(model_trace.nodes.values())
            w, s = 0.0, 0.0
            for site in _sample_sites(model_trace):
                lp = torch_sum(site["log_prob"], sum_dims)
                w, s = w + lp.detach(), s + lp
            for site in _sample_sites(guide_trace):
                lp = torch_sum(site["log_prob"], sum_dims)
                w = w - lp.detach()
                if not is_identically_zero(site["score_parts"].entropy_term):
                    s = s - lp
            log_w.append(w)
            surrogate.append(s)
        vectorized = self.vectorize_particles and self.num_particles > 1
        log_w = log_w[0] if vectorized else torch.stack(log_w)
        surrogate = surrogate[0] if vectorized else torch.stack(surrogate)
        log_mean = log_w.logsumexp(0, keepdim=True) - math.log(self.num_particles)
        weights = (log_w - log_mean).exp()
        return combine(-log_mean.sum(), -(weights * surrogate).sum() / self.num_particles)


def _check_no_annealing(kwargs: dict) -> None:
    if float(kwargs.get("annealing_factor", 1.0)) != 1.0:
        raise ValueError(
            "the IWAE bound does not take KL annealing: it has no separate KL term, and a KL "
            "weight would distort its importance weights. Use a constant beta of 1 "
            "(--anneal constant --beta 1)."
        )


def _traces(model: Callable, guide: Callable, args: tuple, kwargs: dict | None):
    """One guide trace and the model replayed against it, drawn from a forked RNG so that the
    caller's random stream is unchanged."""
    kwargs = kwargs or {}
    with torch.random.fork_rng(), torch.no_grad():
        guide_tr = poutine.trace(guide).get_trace(*args, **kwargs)
        model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(*args, **kwargs)
    return model_tr, guide_tr


def _sample_sites(trace) -> list[dict]:
    return [s for s in trace.nodes.values() if s["type"] == "sample" and not site_is_subsample(s)]


def _check_plate(model_tr, guide_tr, plate: str | None) -> str:
    if plate is None:
        plate, _ = data_plate(model_tr)
    for role, trace in (("model", model_tr), ("guide", guide_tr)):
        for site in _sample_sites(trace):
            if not any(f.name == plate and f.vectorized for f in site["cond_indep_stack"]):
                raise SiteOutsidePlateError(
                    f"sample site {site['name']!r} of the {role} is not inside the data plate "
                    f"{plate!r}; the IWAE bound (RenyiELBO) is per datapoint only when every "
                    "sample site is inside the (vectorized) data plate, and would otherwise "
                    "weight the whole batch jointly"
                )
    return plate


def check_sites_in_plate(model: Callable, guide: Callable, args: tuple, **options) -> str:
    """Check that every sample site of ``model`` and ``guide`` lies inside the data plate.

    Runs the guide on ``args`` and ``kwargs`` once, and the model against it (on a forked RNG,
    without gradients).

    :param options: ``plate``, the data plate's name (by default the outermost plate of the
        model's first observed site), and ``kwargs``, the keyword arguments of both.
    :returns: the data plate's name.
    :raises SiteOutsidePlateError: (a :class:`ValueError`) naming the first site that is not
        inside the plate, or is inside only a sequential ``for ... in pyro.plate``.
    """
    traces = _traces(model, guide, args, options.get("kwargs"))
    return _check_plate(*traces, options.get("plate"))


def check_iwae(
    model: Callable,
    guide: Callable,
    args: tuple,
    plate: str | None = None,
    kwargs: dict | None = None,
) -> str:
    """Check that :class:`IWAE` computes the per-datapoint IWAE bound for this model and guide
    and trains the guide: every sample site inside the data plate
    (:func:`check_sites_in_plate`), every latent site of the guide reparameterized, and no
    site scaled.

    :returns: the data plate's name.
    :raises ValueError: naming the offending site.
    """
    model_tr, guide_tr = _traces(model, guide, args, kwargs)
    plate = _check_plate(model_tr, guide_tr, plate)
    for site in _sample_sites(guide_tr):
        if not site["is_observed"] and not getattr(site["fn"], "has_rsample", False):
            raise ValueError(
                f"latent site {site['name']!r} of the guide is not reparameterizable; "
                "RenyiELBO with alpha = 0 gives its guide no gradient (use 'rws' instead)"
            )
    for role, trace in (("model", model_tr), ("guide", guide_tr)):
        for site in _sample_sites(trace):
            scale = site["scale"]
            if (not torch.is_tensor(scale) and scale != 1.0) or (
                torch.is_tensor(scale) and not bool((scale == 1).all())
            ):
                raise ValueError(
                    f"sample site {site['name']!r} of the {role} is scaled (by KL annealing or "
                    "a subsampled plate); the IWAE bound needs unscaled log weights"
                )
    return plate
