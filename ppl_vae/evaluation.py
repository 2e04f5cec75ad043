"""Held-out evaluation: ELBO and importance-sampled log-likelihoods, perplexity, KL, active units.

Every quantity is computed **per datapoint** (document or sentence) from traces of the model
and guide, so it works for any model/guide pair whose sample sites lie inside the data plate.

* ``elbo_d``: the mean over S guide samples of ``log p(x_d, z) - log q(z | x_d)``; a lower bound.
* ``log_px_d``: the importance-sampled estimate ``logsumexp_s(w_s) - log S`` of ``log p(x_d)``,
  with the guide as proposal (Burda et al., 2016). It is a stochastic lower bound that tightens
  as S grows. Computed per datapoint in float64; it does not use
  :class:`pyro.infer.Importance`, which would weight a whole batch jointly.
* Perplexity per document (Miao et al., 2016): ``exp(-(1/D) sum_d log p(x_d) / N_d)``, and over
  the corpus: ``exp(-sum_d log p(x_d) / sum_d N_d)``.
* Active units (Burda et al., 2016): dimensions u with ``Cov_x(E_q[z_u | x]) > 0.01``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.distributions.kl import kl_divergence
from pyro.poutine.util import site_is_subsample
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

ACTIVE_UNIT_THRESHOLD = 0.01


class SiteOutsidePlateError(ValueError):
    """A sample site is not inside the data plate, so per-datapoint weights are undefined."""


def per_item(log_prob: torch.Tensor, site: dict, plate: str, batch: int) -> torch.Tensor:
    """Sum a site's log-prob over every dim but the data plate's, giving ``(batch,)``."""
    frame = next((f for f in site["cond_indep_stack"] if f.name == plate), None)
    if frame is None:
        raise SiteOutsidePlateError(
            f"sample site {site['name']!r} is not inside the plate {plate!r}; per-datapoint "
            "ELBO and importance weights need every sample site inside the data plate"
        )
    dim = frame.dim
    lp = log_prob
    while lp.dim() < -dim:
        lp = lp.unsqueeze(0)
    lp = lp.movedim(dim, 0)
    lp = lp.expand((batch,) + lp.shape[1:])
    return lp.reshape(batch, -1).sum(1)


def site_log_prob(site: dict) -> torch.Tensor:
    """``log_prob`` of a site's value, with the site's mask applied (no scale)."""
    lp = site["fn"].log_prob(site["value"])
    if site.get("mask") is not None:
        lp = (
            lp.masked_fill(~site["mask"].bool(), 0.0)
            if torch.is_tensor(site["mask"])
            else (lp if site["mask"] else torch.zeros_like(lp))
        )
    return lp


def observed_sites(trace) -> list[dict]:
    return [
        s
        for s in trace.nodes.values()
        if s["type"] == "sample" and s["is_observed"] and not site_is_subsample(s)
    ]


def latent_sites(trace) -> list[dict]:
    return [
        s
        for s in trace.nodes.values()
        if s["type"] == "sample" and not s["is_observed"] and not site_is_subsample(s)
    ]


def data_plate(model_trace, plate: str | None = None) -> tuple[str, int]:
    """The data plate's name and size: ``plate`` if given, else the outermost vectorized plate
    of the model's first observed site."""
    observed = observed_sites(model_trace)
    if not observed:
        raise ValueError("the model has no observed sample site")
    if plate is None:
        return outermost_plate(observed[0])
    return plate, next(f.size for f in observed[0]["cond_indep_stack"] if f.name == plate)


def outermost_plate(site: dict) -> tuple[str, int]:
    """Name and size of the outermost vectorized plate around ``site``."""
    frames = [f for f in site["cond_indep_stack"] if f.vectorized]
    if not frames:
        raise SiteOutsidePlateError(f"site {site['name']!r} is in no plate")
    frame = min(frames, key=lambda f: f.dim)
    return frame.name, frame.size


@dataclass
class ParticleTerms:
    """One guide sample's per-datapoint terms, each ``(batch,)``."""

    log_weight: torch.Tensor  # log p(x, z) - log q(z | x)
    log_likelihood: torch.Tensor  # log p(x | z)
    kl: torch.Tensor  # analytic KL(q || p) where available, else log q(z) - log p(z)
    latent_mean: torch.Tensor | None  # E_q[z] flattened per datapoint, if the guide gives it
    latent_sample: torch.Tensor  # z flattened per datapoint


def particle_terms(
    model: Callable, guide: Callable, *args, plate: str | None = None, **kwargs
) -> ParticleTerms:
    """Draw ``z ~ q(z | x)`` once and score it under the model, per datapoint.

    :param plate: the data plate's name; by default the outermost plate of the first
        observed site.
    """
    guide_tr = poutine.trace(guide).get_trace(*args, **kwargs)
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(*args, **kwargs)
    plate, batch = data_plate(model_tr, plate)

    zeros = torch.zeros(batch, dtype=torch.float64)
    log_lik, log_prior, log_q, kl = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    means, samples, have_means = [], [], True
    for name, site in model_tr.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        lp = per_item(site_log_prob(site), site, plate, batch).double()
        if site["is_observed"]:
            log_lik += lp.cpu()
            continue
        gsite = guide_tr.nodes.get(name)
        if gsite is None:
            raise ValueError(f"latent site {name!r} of the model is not sampled by the guide")
        lq = per_item(site_log_prob(gsite), gsite, plate, batch).double()
        log_prior += lp.cpu()
        log_q += lq.cpu()
        try:
            kl_site = kl_divergence(gsite["fn"], site["fn"])
            kl += per_item(kl_site, gsite, plate, batch).double().cpu()
        except NotImplementedError:
            kl += (lq - lp).cpu()
        samples.append(gsite["value"].detach().reshape(batch, -1))
        try:
            means.append(gsite["fn"].mean.detach().expand_as(gsite["value"]).reshape(batch, -1))
        except (NotImplementedError, AttributeError, RuntimeError):
            have_means = False
    return ParticleTerms(
        log_weight=log_lik + log_prior - log_q,
        log_likelihood=log_lik,
        kl=kl,
        latent_mean=torch.cat(means, 1).cpu() if means and have_means else None,
        latent_sample=torch.cat(samples, 1).cpu() if samples else torch.zeros(batch, 0),
    )


@dataclass
class ItemEstimates:
    """Per-datapoint estimates from S guide samples (float64 numpy arrays of shape (D,))."""

    elbo: np.ndarray
    log_px: np.ndarray
    kl: np.ndarray
    log_likelihood: np.ndarray
    latent_mean: np.ndarray  # (D, K)
    tokens: np.ndarray
    num_samples: int


def estimate_items(
    model: Callable,
    guide: Callable,
    batches: Iterable[tuple],
    num_samples: int = 100,
    progress: bool = False,
) -> ItemEstimates:
    """Per-datapoint ELBO, importance-sampled ``log p(x)`` and KL from ``num_samples`` samples.

    :param batches: ``(args, tokens)`` pairs: the model's arguments for a batch, and the number of
        tokens of each of its datapoints.
    """
    out: dict[str, list] = {k: [] for k in ("elbo", "log_px", "kl", "ll", "mean", "tokens")}
    with torch.no_grad(), poutine.block():
        for args, tokens in tqdm(list(batches), desc="evaluate", disable=not progress, leave=False):
            weights, kls, lls, zsum, mean = [], [], [], None, None
            for _ in range(num_samples):
                t = particle_terms(model, guide, *args)
                weights.append(t.log_weight)
                kls.append(t.kl)
                lls.append(t.log_likelihood)
                if t.latent_mean is not None:
                    mean = t.latent_mean.double()
                zsum = t.latent_sample.double() if zsum is None else zsum + t.latent_sample
            w = torch.stack(weights)  # (S, B) float64
            out["elbo"].append(w.mean(0))
            out["log_px"].append(w.logsumexp(0) - math.log(num_samples))
            out["kl"].append(torch.stack(kls).mean(0))
            out["ll"].append(torch.stack(lls).mean(0))
            out["mean"].append(mean if mean is not None else zsum / num_samples)
            out["tokens"].append(torch.as_tensor(tokens, dtype=torch.float64).cpu())
    cat = {k: torch.cat(v).numpy() for k, v in out.items()}
    return ItemEstimates(
        cat["elbo"], cat["log_px"], cat["kl"], cat["ll"], cat["mean"], cat["tokens"], num_samples
    )


def perplexity_per_document(log_p: np.ndarray, tokens: np.ndarray) -> float:
    """``exp(-(1/D) sum_d log p(x_d) / N_d)``, the NVDM paper's definition, over the documents
    with ``N_d > 0`` (an empty document has no per-word figure; any are left out and counted
    in a warning)."""
    log_p, tokens = np.asarray(log_p, np.float64), np.asarray(tokens, np.float64)
    empty = tokens <= 0
    if empty.any():
        logger.warning("perplexity per document: left out %d empty document(s)", empty.sum())
        log_p, tokens = log_p[~empty], tokens[~empty]
    return float(np.exp(-np.mean(log_p / tokens)))


def perplexity_corpus(log_p: np.ndarray, tokens: np.ndarray) -> float:
    """``exp(-sum_d log p(x_d) / sum_d N_d)``."""
    return float(np.exp(-np.sum(log_p, dtype=np.float64) / np.sum(tokens, dtype=np.float64)))


def active_units(latent_means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Number of dimensions whose posterior mean varies across data: ``Cov_x(E_q[z_u]) > 0.01``."""
    if latent_means.shape[0] < 2:
        return 0
    return int((np.var(latent_means, axis=0, ddof=1) > threshold).sum())


@dataclass
class Evaluation:
    """Summary of :func:`evaluate`; ``*_elbo`` come from the bound, ``*_iw`` from importance
    sampling with ``num_samples`` guide samples."""

    ppl_doc_elbo: float
    ppl_doc_iw: float
    ppl_corpus_elbo: float
    ppl_corpus_iw: float
    elbo: float  # mean per datapoint, nats
    nll_iw: float  # mean -log p(x) per datapoint, nats
    kl: float
    active_units: int
    documents: int
    tokens: int
    num_samples: int
    latent_means: np.ndarray | None = field(default=None, repr=False)  # (D, K), E_q[z | x_d]

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "latent_means"}


def summarize(est: ItemEstimates) -> Evaluation:
    return Evaluation(
        ppl_doc_elbo=perplexity_per_document(est.elbo, est.tokens),
        ppl_doc_iw=perplexity_per_document(est.log_px, est.tokens),
        ppl_corpus_elbo=perplexity_corpus(est.elbo, est.tokens),
        ppl_corpus_iw=perplexity_corpus(est.log_px, est.tokens),
        elbo=float(est.elbo.mean()),
        nll_iw=float(-est.log_px.mean()),
        kl=float(est.kl.mean()),
        active_units=active_units(est.latent_mean),
        documents=len(est.elbo),
        tokens=int(est.tokens.sum()),
        num_samples=est.num_samples,
        latent_means=est.latent_mean,
    )


def evaluate(
    model: Callable,
    guide: Callable,
    data,
    num_samples: int = 100,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Evaluation:
    """Evaluate ``model`` with ``guide`` on a corpus (e.g. a :class:`~ppl_vae.data.BowCorpus`).

    ``data`` must offer ``eval_batches(batch_size, device, by_length)`` yielding
    ``(args, tokens)``; the batches are asked for by length, since per-item estimates do not
    depend on the grouping and padded corpora then waste less.

    :param batch_size: datapoints per batch; by default the corpus's ``eval_batch_size`` (500
        documents, 32 sentences), or 500.
    """
    if batch_size is None:
        batch_size = getattr(data, "eval_batch_size", 500)
    for m in (model, guide):
        if isinstance(m, torch.nn.Module):
            m.eval()
    batches = data.eval_batches(batch_size, device, by_length=True)
    est = estimate_items(model, guide, batches, num_samples, progress=progress)
    return summarize(est)


def mutual_information(encode: Callable, batches: Iterable[tuple]) -> float:
    """He et al. (2019)'s estimate of ``I(x; z)`` under ``q(z | x) p_data(x)``, in nats.

    ``I = E_x E_q(z|x)[log q(z|x)] - E_q(z)[log q(z)]``, with the aggregate posterior
    ``q(z) = (1/B) sum_x q(z | x)`` estimated within each batch and the batches averaged
    (weighted by size). ``encode(*args)`` must return the ``(loc, scale)`` of a diagonal
    Gaussian ``q(z | x)``. The estimate is at most ``log B``.
    """
    total, count = 0.0, 0
    with torch.no_grad():
        for args, _ in batches:
            loc, scale = encode(*args)
            batch, dim = loc.shape
            neg_entropy = (-0.5 * dim * math.log(2 * math.pi) - (0.5 + scale.log()).sum(-1)).mean()
            z = loc + scale * torch.randn_like(loc)
            pairs = torch.distributions.Normal(loc[None], scale[None]).log_prob(z[:, None]).sum(-1)
            log_qz = pairs.logsumexp(1) - math.log(batch)  # (B,): log q(z_i) over the batch
            total += float(neg_entropy - log_qz.mean()) * batch
            count += batch
    return total / max(count, 1)


def guide_mutual_information(guide, batches, site: str = "z") -> float:
    """He et al. (2019)'s estimate of ``I(x; z)`` for any guide, in nats.

    Like :func:`ppl_vae.evaluation.mutual_information`, but reads ``q(z | x)`` from the guide's
    trace, so it needs no ``encode`` method: ``log q(z_i | x_j)`` for all pairs of a batch comes
    from evaluating the site's batched distribution at every item's sample. Works for any guide
    whose site distribution has a ``log_prob`` (flows included, through their inverse).
    """
    total, count = 0.0, 0
    # validation off: scoring z_i under another item's flow inverts it there, which can
    # overflow; such a pair contributes nothing to the aggregate posterior (see below)
    with torch.no_grad(), poutine.block(), pyro.validation_enabled(False):
        for args, _ in batches:
            tr = poutine.trace(guide).get_trace(*args)
            fn, z = tr.nodes[site]["fn"], tr.nodes[site]["value"]
            b = z.shape[0]
            if b < 2:
                continue
            own = fn.log_prob(z)  # (B,)
            # cross[i, j] = log q(z_i | x_j): each sample against every item's distribution
            cross = fn.log_prob(z.unsqueeze(1).expand(b, b, *z.shape[1:]))
            cross = torch.where(torch.isfinite(cross), cross, -math.inf)
            cross.diagonal().copy_(own)
            log_agg = cross.logsumexp(1) - math.log(b)
            total += float((own - log_agg).sum())
            count += b
    return total / max(count, 1)
