"""Wake-sleep and reweighted wake-sleep as objectives for :class:`~pyro.infer.SVI`.

* **Wake-sleep** (Hinton, Dayan, Frey and Neal, 1995). *Wake*: draw ``z ~ q(z | x)`` and raise
  ``log p(x, z)`` in the model's parameters. *Sleep*: dream ``(z, x) ~ p`` from the model and
  raise ``log q(z | x)`` in the guide's parameters, so the guide learns to invert the model.
* **Reweighted wake-sleep** (Bornschein and Bengio, 2015). Draw K particles ``z_k ~ q(z | x)``
  and normalize importance weights ``w_k = p(x, z_k) / q(z_k | x)`` **per datapoint**. The
  model ascends ``sum_k w~_k log p(x, z_k)``; the guide ascends ``sum_k w~_k log q(z_k | x)``
  (wake-phase q update) and, optionally, the sleep objective.

Both need neither reparameterization nor the score function, so they train models with discrete
latents (:class:`~ppl_vae.models.SigmoidBeliefNetwork`) as well as NVDM. Unlike Pyro's own
:class:`~pyro.infer.ReweightedWakeSleep`, which normalizes weights over the whole batch and so
does not support minibatches, the weights here are normalized for each datapoint of the data
plate; every latent site must therefore lie inside that plate.

Each objective's ``loss_and_grads`` gives the model's parameters only the wake gradient and the
guide's parameters only their own, so a single :class:`~pyro.infer.SVI` step with one optimizer
takes both phases. The returned loss is ``-ELBO`` (wake-sleep) or ``-IWAE bound``
(reweighted), summed over the batch like Pyro's ELBOs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from pyro import poutine
from pyro.infer import ELBO

from ppl_vae.infer.base import Objective, combine
from ppl_vae.ops.traces import (
    data_plate,
    latent_sites,
    observed_sites,
    outermost_plate,
    per_item,
    site_log_prob,
)


class SiteMismatchError(ValueError):
    """The guide does not sample exactly the model's latent sites."""


def _check_no_annealing(kwargs: dict) -> None:
    if float(kwargs.get("annealing_factor", 1.0)) != 1.0:
        raise ValueError(
            "wake-sleep objectives do not take KL annealing: they never form the KL term. "
            "Use a constant beta of 1 (--anneal constant --beta 1)."
        )


def _check_sites(conditioned_model_trace, guide_trace) -> None:
    """The model was run conditioned on the guide's samples: any site it still sampled is a
    latent the guide lacks, and any guide site it never reached is one the model lacks."""
    missing = sorted(s["name"] for s in latent_sites(conditioned_model_trace))
    extra = sorted(
        s["name"] for s in latent_sites(guide_trace) if s["name"] not in conditioned_model_trace
    )
    if missing or extra:
        raise SiteMismatchError(
            "the guide does not match the model: "
            + (f"the guide does not sample the model's latent site(s) {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"the guide samples {extra}, which the model does not have" if extra else "")
        )


def _detached(guide_trace) -> dict[str, torch.Tensor]:
    return {s["name"]: s["value"].detach() for s in latent_sites(guide_trace)}


def _joint_per_item(model: Callable, latents: dict, args, kwargs) -> tuple[torch.Tensor, object]:
    """``log p(x, z)`` per datapoint, differentiable in the model's parameters only."""
    trace = poutine.trace(poutine.condition(model, data=latents)).get_trace(*args, **kwargs)
    plate, batch = data_plate(trace)
    total = 0.0
    for site in observed_sites(trace):
        total = total + per_item(site_log_prob(site), site, plate, batch)
    return total, trace


def _guide_log_q(guide_trace, plate: str, batch: int, values: dict | None = None) -> torch.Tensor:
    total = 0.0
    for site in latent_sites(guide_trace):
        value = site["value"] if values is None else values[site["name"]]
        total = total + per_item(site_log_prob({**site, "value": value}), site, plate, batch)
    return total


def dream_args(model: Callable, dreamt: dict[str, torch.Tensor], args: tuple) -> tuple:
    """The model's arguments for dreamt observations ``dreamt`` (site name -> value).

    By default the first argument is replaced by the value of the single observed site. Models
    whose arguments are not "the data first" define ``dream_args(dreamt, *args)``.
    """
    if hasattr(model, "dream_args"):
        return model.dream_args(dreamt, *args)
    if len(dreamt) != 1 or next(iter(dreamt.values())).shape != args[0].shape:
        raise NotImplementedError(
            "cannot tell how to feed dreamt data to this model; define "
            "model.dream_args(dreamt, *args) returning the arguments for the dreamt observations"
        )
    return (next(iter(dreamt.values())), *args[1:])


def sleep_loss(
    model: Callable, guide: Callable, args: tuple, kwargs: dict, observed: set[str]
) -> torch.Tensor:
    """``-sum_d log q(z_d | x_d)`` for ``(z, x)`` dreamt from the model (guide gradients only).

    :param observed: the names of the model's observed sites, which are dreamt too.
    """
    with torch.no_grad():
        dream = poutine.trace(poutine.uncondition(model)).get_trace(*args, **kwargs)
    plate, batch = outermost_plate(dream.nodes[sorted(observed)[0]])
    sampled = {s["name"]: s["value"].detach() for s in latent_sites(dream)}
    dreamt = {k: v for k, v in sampled.items() if k in observed}
    latents = {k: v for k, v in sampled.items() if k not in observed}
    guide_trace = poutine.trace(guide).get_trace(*dream_args(model, dreamt, args), **kwargs)
    return -_guide_log_q(guide_trace, plate, batch, latents).sum()


class _Objective(Objective, ELBO):
    requires = ("latent",)

    def _get_trace(self, model, guide, args, kwargs):  # pragma: no cover - not trace-based
        raise NotImplementedError


class WakeSleep(_Objective):
    """Minibatch wake-sleep (Hinton et al., 1995): one wake and one sleep update per step.

    :param sleep_particles: dreams per step; each dreams one sample per datapoint of the batch.
    """

    name = "wake-sleep"

    @classmethod
    def from_options(cls, num_particles=1, free_bits=0.5, vectorize_particles=False):
        return cls(sleep_particles=num_particles)

    def __init__(self, sleep_particles: int = 1) -> None:
        super().__init__(num_particles=1)
        self.sleep_particles = sleep_particles

    def _wake(self, model, guide, args, kwargs):
        guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        log_joint, model_trace = _joint_per_item(model, _detached(guide_trace), args, kwargs)
        _check_sites(model_trace, guide_trace)
        plate, batch = data_plate(model_trace)
        log_q = _guide_log_q(guide_trace, plate, batch).detach()
        self._observed = {s["name"] for s in observed_sites(model_trace)} - set(
            _detached(guide_trace)
        )
        return log_joint, log_q

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            log_joint, log_q = self._wake(model, guide, args, kwargs)
        return float(-(log_joint - log_q).sum())

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """The wake phase's ``-sum (log p(x, z) - log q(z | x))`` at ``z ~ q``, carrying the
        gradient of both phases: ``-log p(x, z)`` for the model, the sleep loss for the guide."""
        _check_no_annealing(kwargs)
        log_joint, log_q = self._wake(model, guide, args, kwargs)
        surrogate = -log_joint.sum()
        for _ in range(self.sleep_particles):
            sleep = sleep_loss(model, guide, args, kwargs, self._observed)
            surrogate = surrogate + sleep / self.sleep_particles
        return combine(-(log_joint - log_q).sum(), surrogate)


class ReweightedWakeSleep(_Objective):
    """Minibatch reweighted wake-sleep (Bornschein and Bengio, 2015) with ``num_particles`` K.

    :param num_particles: K importance samples per datapoint.
    :param sleep: also take the sleep-phase guide update (off by default; the paper found the
        wake-phase update alone works best).
    """

    name = "rws"

    @classmethod
    def from_options(cls, num_particles=1, free_bits=0.5, vectorize_particles=False):
        return cls(num_particles=max(2, num_particles))

    def __init__(self, num_particles: int = 5, sleep: bool = False) -> None:
        super().__init__(num_particles=num_particles)
        self.sleep = sleep

    def _particles(self, model, guide, args, kwargs):
        log_p, log_q = [], []
        for _ in range(self.num_particles):
            guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
            latents = _detached(guide_trace)
            log_joint, model_trace = _joint_per_item(model, latents, args, kwargs)
            _check_sites(model_trace, guide_trace)
            plate, batch = data_plate(model_trace)
            log_p.append(log_joint)
            log_q.append(_guide_log_q(guide_trace, plate, batch, latents))
            self._observed = {s["name"] for s in observed_sites(model_trace)} - set(latents)
        return torch.stack(log_p), torch.stack(log_q)  # (K, batch)

    def _bound(self, log_p, log_q) -> torch.Tensor:
        log_w = (log_p - log_q).detach()
        return -(log_w.logsumexp(0) - math.log(self.num_particles)).sum()

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            return float(self._bound(*self._particles(model, guide, args, kwargs)))

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """``-L_K`` summed over the batch, carrying the wake-phase gradients (each particle's
        ``log p`` and ``log q`` weighted by its normalized importance weight) and, with
        ``sleep``, the sleep phase's."""
        _check_no_annealing(kwargs)
        log_p, log_q = self._particles(model, guide, args, kwargs)
        weights = torch.softmax((log_p - log_q).detach(), dim=0)  # per datapoint, over particles
        surrogate = -(weights * log_p).sum() - (weights * log_q).sum()
        if self.sleep:
            surrogate = surrogate + sleep_loss(model, guide, args, kwargs, self._observed)
        return combine(self._bound(log_p, log_q), surrogate)
