"""KL annealing: schedules for the weight beta of the KL term, and how it is applied.

``ELBO_beta = E_q[log p(x | z)] - beta * KL(q(z | x) || p(z))``. Bowman et al. (2016) raise beta
from 0 to 1 with a sigmoid to avoid KL collapse; Fu et al. (2019) repeat the warm-up
cyclically. Every schedule maps the global SVI step to beta.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import torch
from pyro import poutine


def kl_annealing(beta: float | torch.Tensor) -> AbstractContextManager:
    """Context that weights the latent sample sites inside it by ``beta``.

    Use it around the latent ``pyro.sample`` in **both** the model and the guide: the KL term
    is ``log q(z|x) - log p(z)``, and ``TraceMeanField_ELBO`` reads the scale of the guide's site
    for its analytic KL. ``poutine.scale`` must be > 0, so ``beta == 0`` masks the sites
    instead, which drops the KL term exactly (an autoencoder objective).

    A Python number picks the cheapest context for its value. A tensor ``beta`` (a 0-dim
    tensor, e.g. a model's positional argument) always gives the same two messengers, masked
    where ``beta == 0`` and scaled by ``beta`` elsewhere, with no branch on its value: under
    :class:`~pyro.infer.JitTrace_ELBO` the loss then follows ``beta`` and compiles once.
    """
    if isinstance(beta, torch.Tensor):
        return _tensor_weight(beta)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta == 1.0:
        return nullcontext()
    if beta == 0.0:
        return poutine.mask(mask=False)
    return poutine.scale(scale=beta)


@contextmanager
def _tensor_weight(beta: torch.Tensor) -> Iterator[None]:
    if not torch._C._get_tracing_state() and bool((beta < 0).any()):
        raise ValueError(f"beta must be >= 0, got {beta}")
    positive = beta > 0
    # the scale must be > 0 even where the mask drops the site
    with poutine.mask(mask=positive), poutine.scale(scale=torch.where(positive, beta, 1.0)):
        yield


class Schedule:
    """beta as a function of the global step (0-based)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError


@dataclass
class Constant(Schedule):
    beta: float = 1.0

    def __call__(self, step: int) -> float:
        return self.beta


@dataclass
class LinearWarmup(Schedule):
    """beta rises linearly from ``start`` to ``end`` over ``warmup_steps``, then stays."""

    warmup_steps: int
    start: float = 0.0
    end: float = 1.0

    def __call__(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.end
        t = min(1.0, step / self.warmup_steps)
        return self.start + t * (self.end - self.start)


@dataclass
class Sigmoid(Schedule):
    """Bowman et al.'s logistic warm-up: ``end / (1 + exp(-k (step - midpoint)))``.

    The default steepness puts beta at about 0.0067 at step 0 and 0.9933 at ``2 * midpoint``.
    """

    midpoint: int
    steepness: float | None = None
    end: float = 1.0

    def __call__(self, step: int) -> float:
        k = self.steepness if self.steepness is not None else 5.0 / max(1, self.midpoint)
        x = -k * (step - self.midpoint)
        return self.end / (1.0 + math.exp(x)) if x < 700 else 0.0


@dataclass
class Cyclical(Schedule):
    """Fu et al. (2019): in each cycle of ``cycle_steps``, beta rises linearly from ``start`` to
    ``end`` over the first ``ratio`` of the cycle, then holds at ``end``."""

    cycle_steps: int
    ratio: float = 0.5
    start: float = 0.0
    end: float = 1.0

    def __call__(self, step: int) -> float:
        t = (step % self.cycle_steps) / self.cycle_steps
        return self.start + min(1.0, t / self.ratio) * (self.end - self.start)


SCHEDULES = ("constant", "linear", "sigmoid", "cyclical")


def make_schedule(name: str, steps: int = 0, beta: float = 1.0, start: float = 0.0) -> Schedule:
    """A schedule by name.

    :param steps: the warm-up length (linear), twice the midpoint (sigmoid), or the cycle
        length (cyclical), in SVI steps.
    :param beta: the constant beta, or the final beta of the others.
    :param start: the first beta of the linear and cyclical schedules.
    """
    if name == "constant":
        return Constant(beta)
    if steps <= 0:
        raise ValueError(f"the {name!r} schedule needs a positive number of steps, got {steps}")
    if name == "linear":
        return LinearWarmup(steps, start, beta)
    if name == "sigmoid":
        return Sigmoid(steps // 2, None, beta)
    if name == "cyclical":
        return Cyclical(steps, 0.5, start, beta)
    raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
