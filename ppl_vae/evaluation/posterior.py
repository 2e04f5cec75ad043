"""Posterior analysis with ArviZ: how good is the guide's ``q(z | x)``, document by document?

The functions work for any model/guide pair of this library whose latent site is ``"z"`` inside
the data plate (``"documents"``, ``"sentences"``); ``data_args`` is the tuple of the model's data
arguments, ``(x,)`` for documents or ``(tokens, lengths)`` for sentences.

* :func:`to_inference_data` draws ``z ~ q(z | x_d)`` and stores the draws with their log
  likelihoods and importance log weights ``log p(x_d, z) - log q(z | x_d)`` in an
  :class:`arviz.InferenceData` (save it with ``idata.to_netcdf(path)``, which needs ``h5netcdf``
  or ``netCDF4``).
* :func:`psis_diagnostics` fits a generalized Pareto distribution to the upper tail of each
  document's importance weights. Its shape ``k`` says whether the guide can be trusted as a
  proposal: ``k < 0.5`` good, ``0.5 <= k < 0.7`` usable, ``k > 0.7`` the importance-sampled
  estimates (and :mod:`ppl_vae.evaluation`'s ``log p(x)``) are unreliable for that document
  (Yao, Vehtari, Simpson and Gelman, 2018, "Yes, but Did It Work?: Evaluating Variational
  Inference", ICML; Vehtari, Simpson, Gelman, Yao and Gabry, 2024, "Pareto Smoothed Importance
  Sampling", JMLR).
* :func:`nuts_reference` samples the exact posterior ``p(z | x)`` of the trained decoder with
  NUTS (Hoffman and Gelman, 2014, "The No-U-Turn Sampler", JMLR), for a few documents, and
  :func:`compare_to_reference` measures how far ``q``'s means and standard deviations are from
  it: the gap between amortized inference and the true posterior (Cremer, Li and Duvenaud, 2018,
  "Inference Suboptimality in Variational Autoencoders", ICML).

Every function puts the model and guide in eval mode while it runs (dropout off) and restores
their mode afterwards; sampling is seeded without touching the global random state.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure
from pyro import poutine
from pyro.infer import MCMC, NUTS
from pyro.poutine.util import site_is_subsample
from torch import nn

from ppl_vae.ops.rng import own_rng
from ppl_vae.ops.traces import outermost_plate, particle_terms, per_item, site_log_prob

if TYPE_CHECKING:
    import arviz as az

logger = logging.getLogger(__name__)

LATENT = "z"
ITEM_DIM = "doc"
LATENT_DIM = "latent"
KHAT_GOOD = 0.5
KHAT_BAD = 0.7
CONSTANT_RTOL = 1e-6


def _arviz():
    """ArviZ, imported on first use: it is the optional ``analysis`` extra
    (``pip install -e ".[analysis]"``), and importing this module needs none of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ 0.23 announces its 1.0 refactor
        import arviz

    return arviz


@contextmanager
def _eval_mode(*modules: Callable) -> Iterator[None]:
    """Put the :class:`~torch.nn.Module` s among ``modules`` in eval mode for the block."""
    nets = [m for m in modules if isinstance(m, nn.Module)]
    modes = [[sub.training for sub in m.modules()] for m in nets]
    for m in nets:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(nets, modes):
            for sub, training in zip(m.modules(), mode):
                sub.training = training


@contextmanager
def _frozen(module: Callable) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on a module's parameters for the block.

    ``pyro.module`` registers only parameters that require gradients, so inside the block the
    model's networks are constants of the potential energy: neither latent sites nor leaves
    that NUTS's gradients reach.
    """
    if not isinstance(module, nn.Module):
        yield
        return
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    with _eval_mode(module):
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)


def _latent_value(trace, site: str) -> torch.Tensor:
    node = trace.nodes.get(site)
    if node is None or node["type"] != "sample" or node["is_observed"]:
        raise ValueError(f"the guide has no latent sample site {site!r}")
    value = node["value"].detach()
    return value.reshape(value.shape[0], -1)


def guide_samples(
    guide: Callable, data_args: tuple, num_samples: int = 100, seed: int = 0, site: str = LATENT
) -> torch.Tensor:
    """``num_samples`` draws of ``z ~ q(z | x)`` for each datapoint, as ``(S, B, K)``.

    :param data_args: the guide's data arguments, e.g. ``(x,)`` or ``(tokens, lengths)``.
    :param site: the latent site; its value must have the data plate as its first dim.
    """
    draws = []
    with own_rng(seed), _eval_mode(guide), torch.no_grad(), poutine.block():
        for _ in range(num_samples):
            draws.append(_latent_value(poutine.trace(guide).get_trace(*data_args), site))
    return torch.stack(draws)


def _log_q(guide_trace, batch: int, plate: str) -> torch.Tensor:
    """``log q(z | x)`` per datapoint, summed over the guide's latent sites."""
    total = torch.zeros(batch, dtype=torch.float64)
    for node in guide_trace.nodes.values():
        if node["type"] == "sample" and not node["is_observed"] and not site_is_subsample(node):
            total += per_item(site_log_prob(node), node, plate, batch).double().cpu()
    return total


def to_inference_data(
    model: Callable,
    guide: Callable,
    data_args: tuple,
    num_samples: int = 500,
    seed: int = 0,
    coords: Mapping[str, Sequence] | None = None,
    site: str = LATENT,
) -> az.InferenceData:
    """``q(z | x)``'s draws for a batch of documents as an :class:`arviz.InferenceData`.

    Groups (one chain; ``doc`` indexes the datapoints, ``latent`` the dimensions of ``z``):

    * ``posterior``: ``z`` with dims ``(chain, draw, doc, latent)``: draws from the *guide*, not
      from ``p(z | x)``;
    * ``log_likelihood``: ``x``, ``log p(x_d | z)`` per draw, dims ``(chain, draw, doc)``;
    * ``sample_stats``: ``log_weight`` = ``log p(x_d, z) - log q(z | x_d)`` and ``log_q`` =
      ``log q(z | x_d)``, dims ``(chain, draw, doc)``, in float64.

    The per-datapoint terms come from :func:`ppl_vae.evaluation.particle_terms`, so they are the
    same quantities the importance-sampled evaluation averages. Because the draws come from
    ``q``, ``az.loo`` and ``az.waic`` on ``log_likelihood`` do not estimate what they usually do;
    :func:`psis_diagnostics` is the diagnostic that applies. Save with ``idata.to_netcdf(path)``.

    :param data_args: the model's and guide's data arguments for one batch.
    :param coords: ArviZ coordinates, e.g. ``{"doc": document_ids}``; by default ``doc`` and
        ``latent`` are ``0, 1, ...``.
    """
    z, log_w, log_lik, log_q = [], [], [], []
    start = time.perf_counter()
    with own_rng(seed), _eval_mode(model, guide), torch.no_grad(), poutine.block():
        for _ in range(num_samples):
            traced = poutine.trace(guide)
            terms = particle_terms(model, traced, *data_args)
            batch = terms.log_weight.shape[0]
            z.append(_latent_value(traced.trace, site).cpu())
            plate, _ = outermost_plate(traced.trace.nodes[site])
            log_w.append(terms.log_weight)
            log_lik.append(terms.log_likelihood)
            log_q.append(_log_q(traced.trace, batch, plate))
    z_draws = torch.stack(z).numpy()
    batch, dim = z_draws.shape[1:]
    logger.info(
        "drew %d samples of q(z|x) for %d datapoints in %.1f s",
        num_samples,
        batch,
        time.perf_counter() - start,
    )
    item = [ITEM_DIM]
    return _arviz().from_dict(
        posterior={site: z_draws[None]},
        log_likelihood={"x": torch.stack(log_lik).numpy()[None]},
        sample_stats={
            "log_weight": torch.stack(log_w).numpy()[None],
            "log_q": torch.stack(log_q).numpy()[None],
        },
        coords={ITEM_DIM: np.arange(batch), LATENT_DIM: np.arange(dim), **(coords or {})},
        dims={site: [ITEM_DIM, LATENT_DIM], "x": item, "log_weight": item, "log_q": item},
        attrs={"inference": "amortized guide q(z|x)", "guide": _name(guide), "seed": seed},
    )


def _name(fn: Callable) -> str:
    return type(fn).__name__ if isinstance(fn, nn.Module) else getattr(fn, "__name__", "fn")


def log_weights(idata: az.InferenceData) -> np.ndarray:
    """The ``(S, B)`` log importance weights stored by :func:`to_inference_data`."""
    lw = idata.sample_stats["log_weight"].stack(__sample__=("chain", "draw"))
    return lw.transpose("__sample__", ...).values


def psis_diagnostics(log_weights: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed importance sampling of each datapoint's weights.

    :param log_weights: ``(S, B)``: S draws (sample axis first, as from :func:`log_weights` or
        stacked :attr:`~ppl_vae.evaluation.ParticleTerms.log_weight`) for B datapoints. Use at
        least 100 draws; with fewer, the tail is too short to fit and ``k`` comes out ``inf``.
    :returns: the smoothed, normalized log weights ``(S, B)`` and the Pareto shape ``k`` of each
        datapoint ``(B,)``. A datapoint whose weights are constant (up to float rounding, i.e.
        ``q`` is its exact posterior) gets ``k = -inf``, where ArviZ's fit would give ``inf``.
    """
    lw = np.asarray(
        log_weights.detach().cpu().numpy() if torch.is_tensor(log_weights) else log_weights,
        dtype=np.float64,
    )
    if lw.ndim != 2:
        raise ValueError(f"log_weights must be (samples, datapoints), got shape {lw.shape}")
    # az.psislw takes the sample axis last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its k > 0.7 warning; the caller gets k itself
        smoothed, khat = _arviz().psislw(lw.T.copy(), reff=1.0)
    smoothed, khat = np.asarray(smoothed).T, np.asarray(khat, dtype=np.float64)
    constant = np.ptp(lw, axis=0) <= CONSTANT_RTOL * np.maximum(1.0, np.abs(lw).max(0))
    if constant.any():
        khat = np.where(constant, -np.inf, khat)
        smoothed[:, constant] = -math.log(lw.shape[0])
    return smoothed, khat


def khat_threshold(num_samples: int) -> float:
    """``min(1 - 1 / log10(S), 0.7)``: the sample-size dependent bound on ``k`` below which
    PSIS with S draws is reliable (Vehtari et al., 2024)."""
    return min(1.0 - 1.0 / math.log10(num_samples), KHAT_BAD) if num_samples > 10 else -math.inf


def khat_summary(khat: np.ndarray | Sequence[float], num_samples: int | None = None) -> dict:
    """Shares of datapoints in Yao et al. (2018)'s ``k`` bands, with the max and median.

    Keys: ``documents``; ``share_le_0.5`` (good), ``share_0.5_0.7`` (in ``(0.5, 0.7]``:
    usable, slow to converge), ``share_gt_0.7`` (unreliable); ``max``; ``median``; with
    ``num_samples``, also ``threshold`` (:func:`khat_threshold`) and ``share_gt_threshold``.
    """
    k = np.asarray(khat, dtype=np.float64).ravel()
    if k.size == 0:
        raise ValueError("no k-hat values")
    out = {
        "documents": int(k.size),
        "share_le_0.5": float(np.mean(k <= KHAT_GOOD)),
        "share_0.5_0.7": float(np.mean((k > KHAT_GOOD) & (k <= KHAT_BAD))),
        "share_gt_0.7": float(np.mean(k > KHAT_BAD)),
        "max": float(np.max(k)),
        "median": float(np.median(k)),
    }
    if num_samples is not None:
        threshold = khat_threshold(num_samples)
        out["threshold"] = threshold
        out["share_gt_threshold"] = float(np.mean(k > threshold))
    return out


def nuts_reference(
    model: Callable,
    data_args: tuple,
    num_samples: int = 500,
    warmup: int = 300,
    num_chains: int = 1,
    seed: int = 0,
    coords: Mapping[str, Sequence] | None = None,
    site: str = LATENT,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
) -> az.InferenceData:
    """Sample ``p(z | x)`` under the model's current (trained) weights with NUTS.

    The model runs with its default arguments besides ``data_args`` (so ``annealing_factor``
    is 1: the real posterior, not a tempered one) in eval mode, with its parameters'
    ``requires_grad`` turned off, so that ``pyro.module`` registers nothing and no gradient
    reaches them; both are restored afterwards. All datapoints of the batch are sampled jointly
    (their posteriors are independent, so a few at a time keeps the dimension ``B * K`` small).
    Chains run one after another, each from its own random initialization.

    :returns: :class:`arviz.InferenceData` with ``posterior`` ``z`` of dims
        ``(chain, draw, doc, latent)`` and ``sample_stats`` ``diverging`` ``(chain, draw)``.
    :raises ValueError: if NUTS finds latent sites other than ``site``.
    """
    draws, diverging = [], []
    start = time.perf_counter()
    with own_rng(seed), _frozen(model):
        for chain in range(num_chains):
            kernel = NUTS(
                model, target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth
            )
            mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=warmup, disable_progbar=True)
            mcmc.run(*data_args)
            samples = mcmc.get_samples()
            if set(samples) != {site}:
                raise ValueError(f"NUTS sampled the sites {sorted(samples)}, expected [{site!r}]")
            z = samples[site].detach().cpu()
            draws.append(z.reshape(num_samples, z.shape[1], -1).numpy())
            flags = np.zeros(num_samples, dtype=bool)
            flags[list(mcmc.diagnostics()["divergences"]["chain 0"])] = True
            diverging.append(flags)
            logger.info("NUTS chain %d: %d divergences", chain, int(flags.sum()))
    z_draws = np.stack(draws)
    batch, dim = z_draws.shape[2:]
    logger.info(
        "NUTS: %d chain(s) of %d + %d warmup draws for %d datapoints in %.1f s",
        num_chains,
        num_samples,
        warmup,
        batch,
        time.perf_counter() - start,
    )
    if any(d.any() for d in diverging):
        logger.warning("NUTS had %d divergent transitions", int(sum(d.sum() for d in diverging)))
    return _arviz().from_dict(
        posterior={site: z_draws},
        sample_stats={"diverging": np.stack(diverging)},
        coords={ITEM_DIM: np.arange(batch), LATENT_DIM: np.arange(dim), **(coords or {})},
        dims={site: [ITEM_DIM, LATENT_DIM]},
        attrs={"inference": "NUTS", "warmup": warmup, "seed": seed},
    )


def reference_summary(idata: az.InferenceData, site: str = LATENT):
    """``az.summary`` of ``z``: mean, sd, HDI, MCSE, ``ess_bulk``, ``ess_tail`` and ``r_hat``
    (rank-normalized split R-hat; Vehtari, Gelman, Simpson, Carpenter and Burkner, 2021,
    "Rank-Normalization, Folding, and Localization", Bayesian Analysis) per document and
    dimension.

    ArviZ computes R-hat only from two or more chains; a single chain is summarized as its two
    halves, which R-hat splits again, so ``r_hat`` still flags a chain that drifts.

    :returns: a :class:`pandas.DataFrame`, one row per ``z[doc, latent]``.
    """
    z = idata.posterior[site]
    if z.sizes["chain"] == 1:
        half = z.sizes["draw"] // 2
        values = z.values[0, : 2 * half]
        dims = list(z.dims[2:])
        idata = _arviz().from_dict(
            posterior={site: values.reshape(2, half, *values.shape[1:])},
            coords={d: z[d].values for d in dims},
            dims={site: dims},
        )
    return _arviz().summary(idata, var_names=[site])


def _moments(idata: az.InferenceData, site: str):
    z = idata.posterior[site]
    return z.mean(("chain", "draw")), z.std(("chain", "draw"), ddof=1)


def compare_to_reference(
    guide_idata: az.InferenceData, nuts_idata: az.InferenceData, site: str = LATENT
) -> dict:
    """How far the guide's posterior means and standard deviations are from NUTS's.

    Documents are matched by their ``doc`` coordinate: the guide's InferenceData may hold more
    documents than the reference. Errors are absolute, and relative to NUTS's posterior sd (an
    error of 0.1 is large for a dimension with sd 0.05 and negligible for one with sd 1).

    :returns: ``documents``, ``latent_dim``; the averages over documents and dimensions
        ``mean_abs_error_mean``, ``mean_abs_error_sd``, ``mean_rel_error_mean``,
        ``mean_rel_error_sd`` and ``mean_sd_ratio`` (``sd_q / sd_nuts``; below 1 when ``q`` is
        too narrow, as KL(q || p) fits tend to be); ``noise_rel_mean``, the mean relative
        error of the means that Monte Carlo noise alone would give if ``q`` were exact
        (``sqrt(2 / pi) * sqrt(1 / ess_nuts + 1 / draws_q)``: errors near it are not
        resolved); and per ``(doc, latent)`` arrays ``abs_error_mean``, ``abs_error_sd`` with
        the matched ``doc`` ids.
    """
    ref_mean, ref_sd = _moments(nuts_idata, site)
    docs = ref_mean[ITEM_DIM].values
    missing = set(docs.tolist()) - set(guide_idata.posterior[ITEM_DIM].values.tolist())
    if missing:
        raise ValueError(f"the guide's InferenceData lacks the documents {sorted(missing)}")
    q_mean, q_sd = (m.sel({ITEM_DIM: docs}) for m in _moments(guide_idata, site))
    if q_mean.shape != ref_mean.shape:
        raise ValueError(f"latent shapes differ: guide {q_mean.shape}, NUTS {ref_mean.shape}")
    ref_sd_v = ref_sd.values
    err_mean = np.abs(q_mean.values - ref_mean.values)
    err_sd = np.abs(q_sd.values - ref_sd_v)
    ess = _arviz().ess(nuts_idata, var_names=[site])[site].values
    draws_q = guide_idata.posterior.sizes["chain"] * guide_idata.posterior.sizes["draw"]
    noise = math.sqrt(2 / math.pi) * np.sqrt(1 / ess + 1 / draws_q)
    return {
        "documents": int(len(docs)),
        "latent_dim": int(ref_mean.shape[-1]),
        "mean_abs_error_mean": float(err_mean.mean()),
        "mean_abs_error_sd": float(err_sd.mean()),
        "mean_rel_error_mean": float((err_mean / ref_sd_v).mean()),
        "mean_rel_error_sd": float((err_sd / ref_sd_v).mean()),
        "mean_sd_ratio": float((q_sd.values / ref_sd_v).mean()),
        "noise_rel_mean": float(noise.mean()),
        "abs_error_mean": err_mean,
        "abs_error_sd": err_sd,
        "doc": docs,
    }


def pair_plot(
    nuts_idata: az.InferenceData,
    guide_idata: az.InferenceData,
    doc,
    dims: Sequence[int] = (0, 1, 2),
    path: str | Path = "pair.png",
    site: str = LATENT,
    max_points: int = 1000,
) -> Path:
    """Scatter matrix of NUTS's and the guide's draws for a few latent dimensions of one
    document, overlaid, with histograms on the diagonal; saved as a PNG.

    :param doc: the document's ``doc`` coordinate (its position, unless ``coords`` gave ids).
    :param dims: ``latent`` coordinates to plot.
    :param max_points: at most this many (evenly thinned) draws of each are scattered.
    """
    dims = list(dims)
    sources = [("NUTS p(z|x)", nuts_idata, "C0"), ("guide q(z|x)", guide_idata, "C1")]
    draws = []
    for _, idata, _ in sources:
        z = idata.posterior[site].sel({ITEM_DIM: doc, LATENT_DIM: dims})
        flat = z.stack(__sample__=("chain", "draw")).transpose("__sample__", LATENT_DIM).values
        draws.append(flat[:: max(1, math.ceil(len(flat) / max_points))])
    n = len(dims)
    fig = Figure(figsize=(2.4 * n + 0.6, 2.4 * n))  # no pyplot: the user's backend is untouched
    axes = fig.subplots(n, n, squeeze=False)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            both = np.concatenate([flat[:, i] for flat in draws])
            bins = np.linspace(both.min(), both.max(), 31)
            for (label, _, color), flat in zip(sources, draws):
                if i == j:
                    ax.hist(flat[:, i], bins, density=True, alpha=0.5, color=color, label=label)
                else:
                    ax.scatter(flat[:, j], flat[:, i], s=3, alpha=0.3, color=color, label=label)
            if i == n - 1:
                ax.set_xlabel(f"z[{dims[j]}]")
            if j == 0 and i > 0:
                ax.set_ylabel(f"z[{dims[i]}]")
    axes[0, 0].legend(loc="upper left", fontsize=7, frameon=False)
    fig.suptitle(f"posterior of document {doc}: NUTS vs guide")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
