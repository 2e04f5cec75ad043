"""What every objective of the library declares about itself, and its module form.

An objective is a Pyro :class:`~pyro.infer.ELBO` (so it works with :class:`~pyro.infer.SVI`)
whose :meth:`~Objective.differentiable_loss` returns one tensor: its *value* is the objective's
loss estimate (the negative bound it reports), and its *gradient* is the objective's gradient
estimator, whatever that is (reparameterized, score function with baselines, wake-sleep's
two phases). So ``objective(model, guide)`` is an :class:`~torch.nn.Module` (Pyro's
``ELBOModule``) whose output can be ``backward()``-ed under any torch optimizer, or wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel`, as in Pyro's ``svi_torch.py`` example.

Which guides an objective can train follows from its :attr:`~Objective.requires` and the
guide's facts (:class:`ppl_vae.guides.base.Guide`): see :meth:`Objective.refusal`.
"""

from __future__ import annotations

from typing import ClassVar

import torch

#: what an objective may require of a guide: the guide fact that must hold, and why
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "reparameterized": (
        "reparameterized",
        "{objective} needs a reparameterized guide; {guide} samples z by the score function",
    ),
    "analytic_kl": (
        "analytic_kl",
        "{objective} clamps an analytic KL per latent dimension, which {guide} lacks",
    ),
    "latent": (
        "has_latent",
        "{objective} fits an inference network, and {guide} samples no latent variable",
    ),
    "exact_conditional": (
        "exact_conditional",
        "{objective} needs an RBM's exact conditional P(z | x), and {guide} is not one",
    ),
}


def combine(loss: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """A tensor with the value of ``loss`` and the gradient of ``surrogate``."""
    return torch.as_tensor(loss).detach() + (surrogate - surrogate.detach())


class Objective:
    """Mixin for the library's objectives: facts on the class, and ``loss_and_grads`` from
    :meth:`differentiable_loss`, so SVI and the module form take the same gradient."""

    #: the name under which configs and the command line know the objective
    name: ClassVar[str] = ""
    #: it honours a KL weight ``annealing_factor`` (beta) below 1
    annealable: ClassVar[bool] = False
    #: it climbs the ELBO, so early stopping may watch the validation ELBO
    elbo_climbing: ClassVar[bool] = False
    #: what it needs of a guide (keys of :data:`REQUIREMENTS`)
    requires: ClassVar[tuple[str, ...]] = ()
    #: it scores a model's normalized density, so the trainer may estimate the KL of a batch
    #: and validate by :func:`~ppl_vae.evaluation.evaluate`; an objective without it (one for
    #: an unnormalized model) validates by its own ``validation_record(model, guide, data,
    #: device, seed)``
    normalized: ClassVar[bool] = True
    #: the :class:`~ppl_vae.config.TrainConfig` fields its :meth:`from_options` takes besides
    #: the common ones (e.g. ``cd_steps``)
    config_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_options(
        cls, num_particles: int = 1, free_bits: float = 0.5, vectorize_particles: bool = False
    ) -> Objective:
        """The objective for the trainer's options (each class takes what applies to it)."""
        return cls(num_particles=num_particles)

    @classmethod
    def refusal(cls, guide: type) -> str | None:
        """Why this objective cannot train guides of class ``guide``, or None if it can."""
        only = getattr(guide, "objectives", None)
        if only is not None and cls.name not in only:
            return f"the {getattr(guide, 'name', guide)} guide trains only with {', '.join(only)}"
        for requirement in cls.requires:
            fact, reason = REQUIREMENTS[requirement]
            if not getattr(guide, fact, True):
                hint = getattr(guide, "default_objective", None)
                text = reason.format(objective=cls.name, guide=getattr(guide, "name", guide))
                return text + (f" (use {hint})" if hint and hint != cls.name else "")
        return None

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        raise NotImplementedError

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        if loss.requires_grad:
            loss.backward()
        return float(loss.detach())
