r"""Per-datapoint refinement of a Gaussian ``q(z | x)`` by gradient ascent on its own ELBO.

An amortized encoder maps every ``x`` to the parameters ``lambda(x) = (mu, log sigma)`` of
``q(z | x)``; the best Gaussian for that ``x`` maximizes the per-datapoint ELBO

.. math::
    \mathcal L(\lambda; x) = \mathbb E_{q_\lambda(z)}[\log p(x \mid z)]
        - \operatorname{KL}(q_\lambda(z) \,\|\, p(z)),

and the difference between the two is the *amortization gap* (Cremer, Li and Duvenaud, 2018,
"Inference Suboptimality in Variational Autoencoders", ICML). Running a few gradient steps on
``lambda`` from the encoder's output is the semi-amortized scheme of Kim, Wiseman, Miller,
Sontag and Rush (2018), "Semi-Amortized Variational Autoencoders", ICML; running many (e.g.
100 Adam steps) estimates the gap.

The model is any Pyro model whose latent site (``"z"``) and observed sites lie inside a data
plate (``"documents"``): it is run under :func:`~pyro.poutine.condition` and
:func:`~pyro.poutine.block`, so nothing it does reaches an enclosing trace, and the
gradients are taken with :func:`torch.autograd.grad` with respect to ``lambda`` only, so no
``.grad`` accumulates in the model's parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.distributions.kl import kl_divergence
from pyro.poutine.util import site_is_subsample

from ppl_vae.ops.traces import observed_sites, site_log_prob

logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adam")
SAMPLE_PLATE = "_refinement_samples"


def gaussian_elbo_per_item(
    model: Callable,
    model_args: tuple,
    loc: torch.Tensor,
    log_scale: torch.Tensor,
    num_samples: int = 1,
    *,
    model_kwargs: dict | None = None,
    site: str = "z",
    plate: str = "documents",
    max_plate_nesting: int | None = None,
) -> torch.Tensor:
    """The ELBO of ``q(z) = N(loc, diag exp(log_scale)^2)`` for each datapoint, ``(batch,)``.

    ``E_q[log p(x | z)]`` is estimated with ``num_samples`` reparameterized samples (drawn at
    once, in an extra plate left of the model's plates), and ``KL(q || p(z))`` is analytic
    where :func:`~pyro.distributions.kl.kl_divergence` knows the pair (a Gaussian prior), else
    estimated from the same samples. The result is differentiable in ``loc``, ``log_scale``
    and the model's parameters. Item ``i``'s ELBO depends only on row ``i`` of ``loc`` and
    ``log_scale``, so the gradient of the sum is every item's own gradient.

    Observed sites are scored without their ``poutine.scale`` (this is the ELBO of the data,
    not a minibatch estimate), with their masks; the model must have no latent site but
    ``site``.

    :param model: the generative model, called as ``model(*model_args, **model_kwargs)``.
    :param loc: ``(batch, K)``.
    :param log_scale: ``(batch, K)``.
    :param site: the latent site that ``q`` is over.
    :param plate: the data plate; ``site`` and every observed site must be inside it.
    :param max_plate_nesting: how many plates the model nests; found by running the model once
        if not given and ``num_samples > 1``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    model_kwargs = model_kwargs or {}
    q = dist.Normal(loc, log_scale.exp()).to_event(1)
    if num_samples == 1:
        z, sample_dim = q.rsample(), None
    else:
        if max_plate_nesting is None:
            max_plate_nesting = _max_plate_nesting(model, model_args, model_kwargs, site, loc)
        z = q.rsample((num_samples,))
        sample_dim = -(max_plate_nesting + 1)
    trace, sample_dim = _conditioned_trace(
        model, model_args, model_kwargs, site, z, num_samples, sample_dim
    )
    if sample_dim is not None:  # z as the model saw it: the sample dim at sample_dim
        z = trace.nodes[site]["value"]
    batch = loc.shape[0]
    _check_latent_sites(trace, site)
    z_site = trace.nodes[site]

    def items(t: torch.Tensor, where: dict) -> torch.Tensor:
        return _per_item(t, where, plate, batch, num_samples, sample_dim)

    # poutine.condition marks the conditioned site observed: it is not part of log p(x | z)
    observed = [s for s in observed_sites(trace) if s["name"] != site]
    log_lik = sum(items(site_log_prob(s), s) for s in observed)
    try:
        kl = items(kl_divergence(q, z_site["fn"]), z_site)
    except NotImplementedError:
        kl = items(q.log_prob(z) - z_site["fn"].log_prob(z), z_site)
    return (log_lik - kl).mean(0)


def refine_gaussian(
    model: Callable,
    model_args: tuple,
    loc: torch.Tensor,
    log_scale: torch.Tensor,
    steps: int,
    step_size: float,
    num_samples: int = 1,
    create_graph: bool = False,
    optimizer: str = "sgd",
    *,
    momentum: float = 0.0,
    max_grad_norm: float | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    model_kwargs: dict | None = None,
    site: str = "z",
    plate: str = "documents",
    max_plate_nesting: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` steps of gradient *ascent* on each item's ELBO, from ``(loc, log_scale)``.

    Each step differentiates :func:`gaussian_elbo_per_item` (summed over the batch, so each
    item gets its own gradient) with respect to ``loc`` and ``log_scale`` only. Works under
    :func:`torch.no_grad` (it enables gradients inside).

    Gradients of the result with respect to the inputs:

    * ``create_graph=False`` (default): a stop-gradient. The result's value is the refined
      point, but it is ``init + (refined - init).detach()``, so a loss on it trains the encoder
      as if no refinement had happened (at the refined point's gradient).
    * ``create_graph=True``: the steps are differentiated through (Kim et al., 2018), so the
      encoder learns a starting point that refines well. The model's parameters then also get
      the gradient that flows through the steps, as in SA-VAE's backward pass. Costs a
      Hessian-vector product per step and keeps every step's graph.

    :param steps: number of steps (0 returns the inputs).
    :param step_size: SGD learning rate, or Adam's ``lr``.
    :param num_samples: samples of ``z`` per item per step.
    :param optimizer: ``"sgd"`` (with optional ``momentum``; Kim et al. use SGD with momentum)
        or ``"adam"`` (invariant to the ELBO's scale, which grows with the document length;
        a safer choice for long runs).
    :param max_grad_norm: if given, each item's gradient (its rows of ``loc`` and
        ``log_scale`` together) is scaled down to at most this norm before the step. The
        ELBO's curvature grows with the document's length, so a step size that suits short
        documents can diverge on long ones; clipping bounds each SGD step by
        ``step_size * max_grad_norm``.
    :return: the refined ``(loc, log_scale)``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if steps == 0:
        return loc, log_scale
    model_kwargs = model_kwargs or {}
    through = create_graph and (loc.requires_grad or log_scale.requires_grad)
    with torch.enable_grad():
        if num_samples > 1 and max_plate_nesting is None:
            max_plate_nesting = _max_plate_nesting(model, model_args, model_kwargs, site, loc)

        def elbo(loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
            return gaussian_elbo_per_item(
                model, model_args, loc, log_scale, num_samples, model_kwargs=model_kwargs,
                site=site, plate=plate, max_plate_nesting=max_plate_nesting,
            )  # fmt: skip

        rule = (optimizer, step_size, momentum, betas, eps, max_grad_norm)
        params = _ascend(elbo, loc, log_scale, steps, rule, through)
    if through:
        return params[0], params[1]
    refined_loc, refined_log_scale = (p.detach() for p in params)
    return loc + (refined_loc - loc).detach(), log_scale + (refined_log_scale - log_scale).detach()


def _ascend(elbo, loc, log_scale, steps: int, rule: tuple, through: bool) -> list[torch.Tensor]:
    """``steps`` steps of ``rule`` (optimizer, step size, momentum, betas, eps, clipping) up
    ``elbo(loc, log_scale)`` (per item), keeping the graph when ``through``."""
    optimizer, step_size, momentum, betas, eps, max_grad_norm = rule
    params = [loc, log_scale] if through else _leaves(loc, log_scale)
    state = [[torch.zeros_like(p) for p in params] for _ in range(2)]
    for step in range(1, steps + 1):
        value = elbo(*params)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("refinement step %d: mean ELBO %.4f", step, float(value.mean()))
        grads = torch.autograd.grad(value.sum(), params, create_graph=through)
        if max_grad_norm is not None:
            grads = _clip_per_item(grads, max_grad_norm)
        moves = _moves(optimizer, grads, state, step, step_size, momentum, betas, eps)
        params = [p + d for p, d in zip(params, moves)]
        if not through:
            params = _leaves(*params)
    return params


def _clip_per_item(grads: tuple[torch.Tensor, ...], max_norm: float) -> list[torch.Tensor]:
    """Scale each item's gradient (row ``i`` of every tensor) to a norm of at most ``max_norm``."""
    norm = sum(g.pow(2).flatten(1).sum(1) for g in grads).sqrt()
    factor = (max_norm / (norm + 1e-12)).clamp(max=1.0)
    return [g * factor.reshape((-1,) + (1,) * (g.dim() - 1)) for g in grads]


def _leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().requires_grad_() for t in tensors]


def _moves(
    optimizer: str,
    grads: tuple[torch.Tensor, ...],
    state: list[list[torch.Tensor]],
    step: int,
    step_size: float,
    momentum: float,
    betas: tuple[float, float],
    eps: float,
) -> list[torch.Tensor]:
    """The ascent step for each parameter; updates ``state`` (velocity, or Adam's moments)."""
    first, second = state
    moves = []
    for i, g in enumerate(grads):
        if optimizer == "sgd":
            first[i] = momentum * first[i] + g if momentum else g
            moves.append(step_size * first[i])
        else:
            b1, b2 = betas
            first[i] = b1 * first[i] + (1 - b1) * g
            second[i] = b2 * second[i] + (1 - b2) * g * g
            m_hat = first[i] / (1 - b1**step)
            v_hat = second[i] / (1 - b2**step)
            moves.append(step_size * m_hat / (v_hat.sqrt() + eps))
    return moves


def _conditioned_trace(
    model: Callable,
    args: tuple,
    kwargs: dict,
    site: str,
    z: torch.Tensor,
    num_samples: int,
    sample_dim: int | None,
):
    """Trace of ``model`` with ``site`` fixed to ``z``, hidden from any enclosing handler.

    With ``sample_dim``, the leading dim of ``z`` is the samples' and the model runs inside a
    plate over them at ``sample_dim``, or further left if an enclosing plate (e.g. Pyro's
    vectorized particles) holds that dim. Returns the trace and the dim used.
    """
    with poutine.block():
        if sample_dim is None:
            conditioned = poutine.condition(model, data={site: z})
            return poutine.trace(conditioned).get_trace(*args, **kwargs), None
        batch_ndims = z.dim() - 2  # z is (samples, *batch, K)
        for dim in range(sample_dim, sample_dim - 16, -1):
            samples = pyro.plate(SAMPLE_PLATE, num_samples, dim=dim)
            try:
                samples.__enter__()
            except ValueError:  # the dim is taken by an enclosing plate
                continue
            try:
                pad = (1,) * (-dim - 1 - batch_ndims)
                conditioned = poutine.condition(
                    model, data={site: z.reshape(z.shape[:1] + pad + z.shape[1:])}
                )
                return poutine.trace(conditioned).get_trace(*args, **kwargs), dim
            finally:
                samples.__exit__(None, None, None)
    raise RuntimeError("no free plate dim for the refinement samples")


def _max_plate_nesting(
    model: Callable, args: tuple, kwargs: dict, site: str, loc: torch.Tensor
) -> int:
    with torch.no_grad():
        trace, _ = _conditioned_trace(model, args, kwargs, site, loc.detach(), 1, None)
    dims = [
        -f.dim
        for s in trace.nodes.values()
        if s["type"] == "sample"
        for f in s["cond_indep_stack"]
        if f.vectorized
    ]
    return max(dims, default=0)


def _check_latent_sites(trace, site: str) -> None:
    if site not in trace.nodes:
        raise ValueError(f"the model has no sample site {site!r}")
    others = [
        name
        for name, s in trace.nodes.items()
        if s["type"] == "sample"
        and not s["is_observed"]
        and name != site
        and name != SAMPLE_PLATE
        and not site_is_subsample(s)
    ]
    if others:
        raise ValueError(
            f"the model has latent sites {others} besides {site!r}; the per-item Gaussian ELBO "
            "needs every latent site but the refined one to be observed or conditioned"
        )


def _per_item(
    t: torch.Tensor, site: dict, plate: str, batch: int, num_samples: int, sample_dim: int | None
) -> torch.Tensor:
    """Sum a site's ``(..)`` log-density over every dim but the samples' and the data plate's,
    giving ``(num_samples, batch)``."""
    frame = next((f for f in site["cond_indep_stack"] if f.name == plate), None)
    if frame is None:
        raise ValueError(f"site {site['name']!r} is not inside the plate {plate!r}")
    dims = [frame.dim] + ([sample_dim] if sample_dim is not None else [])
    rank = max(t.dim(), -min(dims))
    t = t.reshape((1,) * (rank - t.dim()) + t.shape)
    if sample_dim is None:
        t = t.movedim(rank + frame.dim, 0).unsqueeze(0)
    else:
        t = t.movedim((rank + sample_dim, rank + frame.dim), (0, 1))
    t = t.expand((num_samples, batch) + t.shape[2:])
    return t.reshape(num_samples, batch, -1).sum(-1)
