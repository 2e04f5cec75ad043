"""Readable summaries of a trained document model: evaluation table, topics, recovery."""

from __future__ import annotations

import numpy as np
import torch

from ppl_vae.data import SyntheticCorpus
from ppl_vae.evaluation.estimates import Evaluation
from ppl_vae.evaluation.topics import top_words
from ppl_vae.ops.metrics import perplexity_corpus, perplexity_per_document


def evaluation_table(ev: Evaluation, title: str = "") -> str:
    if ev.partition is not None:
        return _partition_table(ev, title)
    q = f", q refined ({ev.refine_steps} steps)" if ev.refine_steps else ""
    rows = [
        (f"perplexity per document, ELBO bound{q}", f"{ev.ppl_doc_elbo:.1f}"),
        (f"perplexity per document, IW ({ev.num_samples} samples){q}", f"{ev.ppl_doc_iw:.1f}"),
        (f"perplexity over corpus, ELBO bound{q}", f"{ev.ppl_corpus_elbo:.1f}"),
        (f"perplexity over corpus, IW ({ev.num_samples} samples){q}", f"{ev.ppl_corpus_iw:.1f}"),
    ]
    if ev.refine_steps:
        rows += [
            ("perplexity per document, ELBO, encoder's q", f"{ev.ppl_doc_elbo_encoder:.1f}"),
            ("perplexity over corpus, ELBO, encoder's q", f"{ev.ppl_corpus_elbo_encoder:.1f}"),
            ("amortization gap per datapoint (nats)", f"{ev.amortization_gap:.2f}"),
        ]
    rows += [
        ("ELBO per datapoint (nats)", f"{ev.elbo:.2f}"),
        ("-log p(x) per datapoint, IW (nats)", f"{ev.nll_iw:.2f}"),
        ("KL(q || p) per datapoint (nats)", f"{ev.kl:.2f}"),
        ("active units", f"{ev.active_units}"),
        ("datapoints / tokens", f"{ev.documents} / {ev.tokens}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [title] if title else []
    lines += [f"  {name:<{width}}  {value:>10}" for name, value in rows]
    return "\n".join(lines)


def _partition_table(ev: Evaluation, title: str) -> str:
    """A model scored by ``-F(x) - log Z_N`` (the Replicated Softmax)."""
    p = ev.partition
    if p["estimator"] == "ais":
        how = f"AIS log Z ({p['ais_runs']} runs, {p['ais_temperatures']} temperatures)"
    else:
        how = "exact log Z (enumerated)"
    rows = [
        (f"perplexity per document, {how}", f"{ev.ppl_doc_iw:.1f}"),
        (f"perplexity over corpus, {how}", f"{ev.ppl_corpus_iw:.1f}"),
        ("-log p(x) per datapoint (nats)", f"{ev.nll_iw:.2f}"),
    ]
    if p["estimator"] == "ais":
        rows += [
            ("sd of log w over AIS runs, mean / max", f"{p['log_z_spread_mean']:.3f} / "
             f"{p['log_z_spread_max']:.3f}"),
            ("standard error of log Z, mean / max", f"{p['log_z_standard_error_mean']:.4f} / "
             f"{p['log_z_standard_error_max']:.4f}"),
        ]  # fmt: skip
    rows += [
        ("KL(P(z|x) || P(z)) per datapoint (nats)", f"{ev.kl:.2f}"),
        ("active hidden units", f"{ev.active_units}"),
        ("datapoints / tokens", f"{ev.documents} / {ev.tokens}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [title] if title else []
    lines += [f"  {name:<{width}}  {value:>10}" for name, value in rows]
    return "\n".join(lines)


def topics_table(weights: torch.Tensor, vocab: list[str], k: int, dims: list[int]) -> str:
    words = top_words(weights, vocab, k, dims)
    return "\n".join(f"  z[{d:>2}]  {' '.join(ws)}" for d, ws in zip(dims, words))


def recovery_report(
    syn: SyntheticCorpus, ev: Evaluation, decoder_weight: torch.Tensor, split: str = "test"
) -> dict:
    """How well a model trained on the synthetic corpus recovered the generating model."""
    corpus = getattr(syn, split)
    oracle = syn.oracle_log_likelihood(split)
    counts = syn.train.dense().double().numpy().sum(0) + 1.0
    unigram = corpus.dense().double().numpy() @ np.log(counts / counts.sum())
    return {
        "true_latent_dim": syn.spec.latent_dim,
        "active_units": ev.active_units,
        "subspace_recovery": syn.subspace_recovery(decoder_weight),
        "ppl_doc_oracle": perplexity_per_document(oracle, corpus.lengths),
        "ppl_doc_unigram": perplexity_per_document(unigram, corpus.lengths),
        "ppl_doc_iw": ev.ppl_doc_iw,
        "ppl_corpus_oracle": perplexity_corpus(oracle, corpus.lengths),
    }
