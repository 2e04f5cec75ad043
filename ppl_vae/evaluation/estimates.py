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

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from pyro import poutine
from tqdm.auto import tqdm

from ppl_vae.evaluation import fast_documents
from ppl_vae.ops.metrics import (
    ItemEstimates,
    active_units,
    perplexity_corpus,
    perplexity_per_document,
)
from ppl_vae.ops.traces import particle_terms


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
    exact: bool = False  # log p(x) computed by the model itself (no guide): bound = estimate

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
        exact=est.exact,
    )


def evaluate(
    model: Callable,
    guide: Callable | None,
    data,
    num_samples: int = 100,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Evaluation:
    """Evaluate ``model`` on a corpus (a :class:`~ppl_vae.data.corpus.Corpus`): the one entry
    point for every model of the library.

    * With a ``guide``: per-datapoint ELBO and importance-sampled ``log p(x)`` from
      ``num_samples`` guide samples (:func:`estimate_items`). The corpus's ``eval_batches``
      are asked for by length, since per-item estimates do not depend on the grouping and
      padded corpora then waste less.
    * With a guide that samples no latent variable (the RNNLM's), ``log p(x)`` is exact: it is
      computed once, whatever ``num_samples`` says, and :attr:`Evaluation.exact` says so.
    * With ``guide=None``: a model that computes ``log p(x)`` itself (exactly, like the fitted
      mixture of multinomials, or by its own estimator) through a method
      ``evaluate_items(corpus) -> ItemEstimates``; its "ELBO" and "importance-sampled" figures
      are then the same, and :attr:`Evaluation.exact` says so.

    :param batch_size: datapoints per batch; by default the corpus's ``eval_batch_size`` (500
        documents, 32 sentences), or 500.
    """
    if guide is None:
        if not hasattr(model, "evaluate_items"):
            raise TypeError(
                f"{type(model).__name__} needs a guide: it has no evaluate_items(corpus) of its own"
            )
        return summarize(model.evaluate_items(data))
    if batch_size is None:
        batch_size = getattr(data, "eval_batch_size", 500)
    exact = getattr(guide, "has_latent", True) is False  # e.g. the RNNLM: log p(x) itself
    if exact:
        num_samples = 1  # every sample would give the same exact value
    for m in (model, guide):
        if isinstance(m, torch.nn.Module):
            m.eval()
    batches = data.eval_batches(batch_size, device, by_length=True)
    if fast_documents.applies(model, guide):  # the same estimates, the encoder run once
        batches = tqdm(list(batches), desc="evaluate", disable=not progress, leave=False)
        return summarize(fast_documents.estimate_documents(model, guide, batches, num_samples))
    est = estimate_items(model, guide, batches, num_samples, progress=progress)
    est.exact = exact
    return summarize(est)
