"""The optimizer and one training step of a module-local objective."""

from __future__ import annotations

import torch

from ppl_vae.config import TrainConfig


def trainable_parameters(*modules: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of ``modules`` that need gradients, each once, in module order."""
    return list(dict.fromkeys(p for m in modules for p in m.parameters() if p.requires_grad))


def make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, or AdamW (decoupled weight decay) when ``config.weight_decay > 0``, fused (one
    kernel per parameter tensor: about 30% faster steps on CPU than the loop); or with
    ``config.optimizer == "sgd"``, SGD with ``config.momentum`` and L2 weight decay (the RBM
    literature's choice).

    A parameter marked ``no_weight_decay = True`` (e.g. those of NVDM's learned prior) goes in
    a second group without weight decay."""
    if config.optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {config.optimizer!r}; choose adam or sgd")
    groups = param_groups(params, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.weight_decay > 0:
        return torch.optim.AdamW(groups, lr=config.lr, fused=True)
    return torch.optim.Adam(groups, lr=config.lr, fused=True)


def param_groups(params: list[torch.nn.Parameter], weight_decay: float) -> list[dict]:
    """One group of ``params`` with ``weight_decay``, and a second with none for those marked
    ``no_weight_decay`` (only when there are any, so that the optimizer of a model without
    them keeps a single group)."""
    exempt = [p for p in params if getattr(p, "no_weight_decay", False)]
    plain = [p for p in params if not getattr(p, "no_weight_decay", False)]
    groups = [{"params": plain, "weight_decay": weight_decay}]
    if exempt:
        groups.append({"params": exempt, "weight_decay": 0.0})
    return groups


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    args: tuple,
    beta: float | torch.Tensor = 1.0,
    clip: float | None = None,
    scale: float = 1.0,
) -> float:
    """One step: the loss ``loss_fn(*args, annealing_factor=beta)`` of a module-local
    objective (``objective(model, guide)``, see :mod:`ppl_vae.infer.base`), its gradient, each
    parameter's gradient clipped to norm ``clip`` when given (as :class:`pyro.optim.PyroOptim`'s
    ``clip_args`` do), then the optimizer's step. Returns the loss. ``scale`` multiplies the
    loss before ``backward`` (the world size under DDP, which averages gradients over ranks)."""
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(*args, annealing_factor=beta)
    if loss.requires_grad:
        (loss * scale if scale != 1.0 else loss).backward()
    if clip:
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    torch.nn.utils.clip_grad_norm_(p, clip)
    optimizer.step()
    return float(loss.detach())
