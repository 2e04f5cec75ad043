"""The variance of stochastic gradient estimators of an ELBO, at fixed weights.

The reparameterization trick (Kingma and Welling, 2014; Rezende, Mohamed and Wierstra, 2014)
and the score function (Williams, 1992; with baselines, Mnih and Gregor, 2014) give unbiased
estimates of the same gradient; they differ in variance, which is what sets how fast SVI can
learn. :func:`gradient_variance` draws independent single-batch estimates of a loss's gradient
at the current weights and summarizes their spread, so two guides (e.g.
:class:`~ppl_vae.guides.DiagonalGaussianGuide` and
:class:`~ppl_vae.guides.ScoreFunctionGaussianGuide` with the same weights) can be compared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import torch
from pyro import poutine
from pyro.infer import ELBO

logger = logging.getLogger(__name__)


def gradient_variance(
    model: Callable,
    guide: Callable,
    loss: ELBO,
    batch: torch.Tensor | tuple,
    num_estimates: int = 20,
    params: str | Iterable[torch.Tensor] = "guide",
) -> dict[str, float]:
    """Spread of ``num_estimates`` independent estimates of ``grad loss`` on one batch.

    Each estimate is the gradient of ``loss.differentiable_loss(model, guide, *batch)`` (which
    for Pyro's ELBOs is the surrogate whose gradient is the estimator: reparameterized paths
    plus score-function terms) or, for objectives without it
    (:class:`~pyro.infer.TraceGraph_ELBO`), the ``.grad`` that ``loss.loss_and_grads`` leaves,
    with every parameter's ``.grad`` cleared before each estimate and restored afterwards. No
    parameter is changed. The guide and model run in whatever mode they are in: call
    ``.eval()`` first to keep dropout's noise out of the estimate. Stateful objectives
    (Pyro's decaying-average baselines) do update their state.

    :param loss: a Pyro ELBO, e.g. ``TraceMeanField_ELBO()`` or ``TraceGraph_ELBO()``; its
        ``num_particles`` sets the samples per estimate.
    :param batch: the model's arguments: a tensor or a tuple of them.
    :param params: ``"guide"`` (the guide's parameters, as it registers them with Pyro, but
        without those of the ``nn_baseline`` networks it passes to Pyro, which are fit by a
        regression loss rather than the ELBO), ``"model"``, or the tensors themselves.
    :return: ``mean_variance`` (mean over coordinates of the per-coordinate variance across
        estimates), ``total_variance`` (their sum, ``E||g - E g||^2``),
        ``mean_grad_sq_norm`` (``||mean g||^2``; it overestimates ``||E g||^2`` by
        ``total_variance / num_estimates`` on average), ``signal_to_noise``
        (``mean_grad_sq_norm / total_variance``), ``num_params`` and ``num_estimates``.
    """
    if num_estimates < 2:
        raise ValueError(f"num_estimates must be >= 2, got {num_estimates}")
    args = batch if isinstance(batch, tuple) else (batch,)
    guide_params, baseline_params, model_params = _registered_params(model, guide, args)
    chosen = _chosen(params, guide_params, baseline_params, model_params)
    touched = _unique([*chosen, *guide_params, *model_params])
    saved = [p.grad for p in touched]
    mean = m2 = None
    try:
        for n in range(1, num_estimates + 1):
            for p in touched:
                p.grad = None
            g = _estimate(loss, model, guide, args, chosen)
            if mean is None:
                mean, m2 = torch.zeros_like(g), torch.zeros_like(g)
            delta = g - mean  # Welford's running mean and sum of squared deviations
            mean += delta / n
            m2 += delta * (g - mean)
    finally:
        for p, grad in zip(touched, saved):
            p.grad = grad
    result = _summary(mean, m2 / (num_estimates - 1), num_estimates)
    logger.debug("gradient variance: %s", result)
    return result


def _chosen(params, guide_params, baseline_params, model_params) -> list[torch.Tensor]:
    if params == "guide":
        chosen = [p for p in guide_params if all(p is not b for b in baseline_params)]
    elif params == "model":
        chosen = model_params
    elif isinstance(params, str):
        raise ValueError(f"params must be 'guide', 'model' or tensors, got {params!r}")
    else:
        chosen = list(params)
    if not chosen:
        raise ValueError("no parameters to differentiate")
    return chosen


def _estimate(loss, model, guide, args: tuple, chosen: list[torch.Tensor]) -> torch.Tensor:
    """One gradient estimate of ``loss`` with respect to ``chosen``, flattened, in float64."""
    differentiable = getattr(loss, "differentiable_loss", None)
    if differentiable is not None:
        grads = torch.autograd.grad(differentiable(model, guide, *args), chosen, allow_unused=True)
    else:
        loss.loss_and_grads(model, guide, *args)
        grads = [p.grad for p in chosen]
    return torch.cat(
        [
            (torch.zeros_like(p) if d is None else d).detach().reshape(-1).double()
            for p, d in zip(chosen, grads)
        ]
    )


def _summary(mean: torch.Tensor, variance: torch.Tensor, num_estimates: int) -> dict:
    total = float(variance.sum())
    signal = float(mean.pow(2).sum())
    return {
        "mean_variance": float(variance.mean()),
        "total_variance": total,
        "mean_grad_sq_norm": signal,
        "signal_to_noise": signal / total if total > 0 else float("inf"),
        "num_params": int(variance.numel()),
        "num_estimates": num_estimates,
    }


def _registered_params(
    model: Callable, guide: Callable, args: tuple
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """The guide's and the model's Pyro parameters (unconstrained leaves), and the parameters
    of the guide's ``nn_baseline`` modules, from one run of each."""
    with torch.no_grad(), poutine.block():
        guide_trace = poutine.trace(guide).get_trace(*args)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args)

    def leaves(trace) -> list[torch.Tensor]:
        return _unique(
            site["value"].unconstrained()
            for site in trace.nodes.values()
            if site["type"] == "param"
        )

    baselines = [
        site["infer"]["baseline"]["nn_baseline"]
        for site in guide_trace.nodes.values()
        if site["type"] == "sample"
        and isinstance(site["infer"].get("baseline", {}).get("nn_baseline"), torch.nn.Module)
    ]
    baseline_params = _unique(p for module in baselines for p in module.parameters())
    return leaves(guide_trace), baseline_params, leaves(model_trace)


def _unique(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    seen: set[int] = set()
    out = []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out
