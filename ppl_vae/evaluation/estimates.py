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

from ppl_vae.evaluation import fast_documents, particles, partition
from ppl_vae.infer.ais import RUNS, STEPS
from ppl_vae.ops.metrics import (
    ItemEstimates,
    active_units,
    perplexity_corpus,
    perplexity_per_document,
)
from ppl_vae.ops.traces import particle_terms
from ppl_vae.ops.world import broadcast, map_batches


def estimate_items(
    model: Callable,
    guide: Callable,
    batches: Iterable[tuple],
    num_samples: int = 100,
    progress: bool = False,
    seed: int | None = None,
) -> ItemEstimates:
    """Per-datapoint ELBO, importance-sampled ``log p(x)`` and KL from ``num_samples`` samples.

    :param batches: ``(args, tokens)`` pairs: the model's arguments for a batch, and the number of
        tokens of each of its datapoints.
    :param seed: seeds each batch's draws by its index (:func:`~ppl_vae.ops.world.map_batches`),
        so the estimates do not depend on the world size of a distributed job; None draws from
        the current stream. Under ``torch.distributed`` the batches are shared out over the ranks
        and every rank gets every item's estimates.
    """

    def one(batch) -> dict:
        args, tokens = batch
        with torch.no_grad(), poutine.block():
            return _batch_estimates(model, guide, args, tokens, num_samples)

    bar = _progress_bar(progress)
    return ItemEstimates.concatenate(map_batches(one, batches, seed, bar), num_samples)


def _batch_estimates(model, guide, args, tokens, num_samples: int) -> dict:
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
    piece = {
        "elbo": w.mean(0),
        "log_px": w.logsumexp(0) - math.log(num_samples),
        "kl": torch.stack(kls).mean(0),
        "ll": torch.stack(lls).mean(0),
        "mean": mean if mean is not None else zsum / num_samples,
    }
    piece = {k: v.double().cpu().numpy() for k, v in piece.items()}
    piece["tokens"] = torch.as_tensor(tokens, dtype=torch.float64).cpu().numpy()
    return piece


def _progress_bar(progress: bool):
    return lambda share: tqdm(share, desc="evaluate", disable=not progress, leave=False)


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
    #: a deterministic guide (an autoencoder): "elbo" is ``log p(x | z = mu(x))``, no bound
    reconstruction: bool = False
    #: for a model with an intractable partition function: how ``log Z`` was computed
    #: (``{"estimator": "ais", "ais_runs": ..., ...}`` or ``{"estimator": "exact"}``)
    partition: dict | None = None
    #: Adam steps of per-item refinement of ``q`` before estimating (0: the encoder's ``q``)
    refine_steps: int = 0
    #: with refinement: the encoder's own ELBO perplexities, from the same draws
    ppl_doc_elbo_encoder: float | None = None
    ppl_corpus_elbo_encoder: float | None = None
    #: with refinement: the mean rise of the ELBO per item, in nats (the amortization gap)
    amortization_gap: float | None = None

    def to_dict(self) -> dict:
        """The figures as plain data; an exact evaluation also names them ``*_exact``."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("latent_means", "partition")}
        if self.exact:
            out.update(ppl_doc_exact=self.ppl_doc_iw, ppl_corpus_exact=self.ppl_corpus_iw)
        if self.partition is not None:
            out.update(self.partition)
            if self.partition["estimator"] == "ais":
                out.update(ppl_doc_ais=self.ppl_doc_iw, ppl_corpus_ais=self.ppl_corpus_iw)
        if not self.refine_steps:
            for key in ("ppl_doc_elbo_encoder", "ppl_corpus_elbo_encoder", "amortization_gap"):
                del out[key]
        return out


def summarize(est: ItemEstimates) -> Evaluation:
    refined = {}
    if est.refine_steps:
        refined = {
            "refine_steps": est.refine_steps,
            "ppl_doc_elbo_encoder": perplexity_per_document(est.elbo_encoder, est.tokens),
            "ppl_corpus_elbo_encoder": perplexity_corpus(est.elbo_encoder, est.tokens),
            "amortization_gap": float((est.elbo - est.elbo_encoder).mean()),
        }
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
        **refined,
    )


def evaluate(
    model: Callable,
    guide: Callable | None,
    data,
    num_samples: int = 100,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    seed: int | None = None,
    refine_steps: int = 0,
    partition_method: str = "auto",
    ais_runs: int = RUNS,
    ais_steps: int = STEPS,
) -> Evaluation:
    """Evaluate ``model`` on a corpus (a :class:`~ppl_vae.data.corpus.Corpus`): the one entry
    point for every model of the library.

    * With a ``guide``: per-datapoint ELBO and importance-sampled ``log p(x)`` from
      ``num_samples`` guide samples (:func:`estimate_items`). The corpus's ``eval_batches``
      are asked for by length, since per-item estimates do not depend on the grouping and
      padded corpora then waste less.
    * With a guide that samples no latent variable (the RNNLM's), ``log p(x)`` is exact: it is
      computed once, whatever ``num_samples`` says, and :attr:`Evaluation.exact` says so.
    * With a deterministic guide (an autoencoder's, :attr:`~ppl_vae.guides.base.Guide.
      deterministic`), the "ELBO" is the reconstruction log-likelihood ``log p(x | z = mu(x))``
      under a flat prior, computed once: not a bound on any ``log p(x)``, and
      :attr:`Evaluation.reconstruction` says so.
    * With ``guide=None``: a model that computes ``log p(x)`` itself (exactly, like the fitted
      mixture of multinomials, or by its own estimator) through a method
      ``evaluate_items(corpus) -> ItemEstimates``; its "ELBO" and "importance-sampled" figures
      are then the same, and :attr:`Evaluation.exact` says so.

    :param batch_size: datapoints per batch; by default the corpus's ``eval_batch_size`` (500
        documents, 32 sentences), or 500.
    :param seed: the draws of batch ``i`` come from torch's RNG seeded by ``(seed, i)`` on a
        fork, so the figures are reproducible and do not depend on the world size; None takes
        the seed from one draw of the caller's RNG.

    :param refine_steps: first refine each document's ``q`` by this many Adam steps on its own
        ELBO (:mod:`~ppl_vae.evaluation.fast_documents`: a Gaussian-prior document model with
        a closed-form Gaussian guide, such as NVDM's). The figures are then those of the
        refined ``q``, still bounds and estimates of the same ``log p(x)``, and the encoder's
        ELBO and the amortization gap are reported beside them.

    * A model with an intractable partition function (the Replicated Softmax, whose guide is
      its own exact conditional) is scored by ``log P(x) = -F(x) - log Z_N``
      (:mod:`~ppl_vae.evaluation.partition`): ``log Z_N`` exact by enumeration
      (``partition_method="exact"``, or ``"auto"`` for few hidden units) or by annealed
      importance sampling with ``ais_runs`` runs and ``ais_steps`` temperatures for the first
      word (:mod:`ppl_vae.infer.ais`). :attr:`Evaluation.partition` says which, with the
      spread of ``log Z`` over the runs.

    Under ``torch.distributed`` (every rank calling it) the batches are shared out over the
    ranks and every rank returns the figures of the whole corpus, equal to one process's.
    """
    if refine_steps and not fast_documents.applies(model, guide):
        raise ValueError(
            f"refining q at evaluation needs a Gaussian-prior document model with a closed-form "
            f"Gaussian guide (NVDM with the diagonal guides); not {type(model).__name__} with "
            f"{type(guide).__name__}"
        )
    if partition.applies(model):  # log P(x) = -F(x) - log Z_N, Z_N exact or by AIS
        if seed is None:
            seed = broadcast(int(torch.randint(2**62, ())))
        est, info = partition.estimate_unnormalized(
            model, data, batch_size or getattr(data, "eval_batch_size", 500), device, seed,
            partition_method, ais_runs, ais_steps, progress,
        )  # fmt: skip
        summary = summarize(est)
        summary.partition = info
        return summary
    if guide is None:
        if not hasattr(model, "evaluate_items"):
            raise TypeError(
                f"{type(model).__name__} needs a guide: it has no evaluate_items(corpus) of its own"
            )
        return summarize(model.evaluate_items(data))
    if batch_size is None:
        batch_size = getattr(data, "eval_batch_size", 500)
    exact = getattr(guide, "has_latent", True) is False  # e.g. the RNNLM: log p(x) itself
    reconstruction = bool(getattr(guide, "deterministic", False))  # an autoencoder
    if exact or reconstruction:
        num_samples = 1  # every sample would give the same value
    for m in (model, guide):
        if isinstance(m, torch.nn.Module):
            m.eval()
    batches = data.eval_batches(batch_size, device, by_length=True)
    if seed is None:  # one draw from the caller's stream seeds the batches; rank 0's for all
        seed = broadcast(int(torch.randint(2**62, ())))
    if fast_documents.applies(model, guide):  # the same estimates, the encoder run once
        est = fast_documents.estimate_documents(
            model, guide, batches, num_samples, seed=seed, progress=progress,
            refine_steps=refine_steps,
        )  # fmt: skip
        return summarize(est)
    if not exact and particles.applies(model, guide):  # the encoder once, particles batched
        vocab_size = getattr(data, "vocab_size", None)
        est = particles.estimate_particles(model, guide, batches, num_samples, seed=seed,
                                           progress=progress, vocab_size=vocab_size)  # fmt: skip
        return summarize(est)
    est = estimate_items(model, guide, batches, num_samples, progress=progress, seed=seed)
    est.exact = exact
    summary = summarize(est)
    summary.reconstruction = reconstruction
    return summary
