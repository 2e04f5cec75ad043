"""Sentences from a sentence run's decoder: prior samples, for ``ppl-vae sample``."""

from __future__ import annotations

from pathlib import Path

import torch

from ppl_vae.evaluation.generation import decode, fit_codes, to_text
from ppl_vae.ops.rng import own_rng
from ppl_vae.runs.run import load_run_data, load_sentence_run

#: training sentences whose codes :func:`sample_sentences` fits with ``codes=True``
CODE_ITEMS = 10_000


def sample_sentences(
    run_dir: str | Path,
    n: int = 10,
    max_length: int = 30,
    method: str = "greedy",
    temperature: float = 1.0,
    beam: int = 5,
    seed: int = 0,
    codes: bool = False,
    data_dir: str | None = None,
) -> list[str]:
    """``n`` sentences decoded from codes ``z`` drawn from ``N(0, I)`` (the VAE's prior, and
    the autoencoder's default), or with ``codes`` from a Gaussian fitted to the posterior
    means of the first :data:`CODE_ITEMS` training sentences
    (:func:`~ppl_vae.evaluation.generation.fit_codes`; the corpus is the run's own, or
    ``data_dir``). The draws come from a fork of torch's RNG seeded with ``seed``."""
    run, vocab = load_sentence_run(run_dir)
    dim = run.config.latent_dim
    source = None
    if codes:
        train = load_run_data(run.config, data_dir).train
        source = fit_codes(run.guide, train.eval_batches(500, "cpu"), CODE_ITEMS)
    with own_rng(seed):
        z = source.sample((n,)) if source is not None else torch.randn(n, dim)
        ids = decode(run.model, z, max_length, method, temperature, beam)
    return to_text(vocab, ids)
