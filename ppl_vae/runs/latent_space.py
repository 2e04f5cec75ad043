"""Sentence runs side by side: the autoencoder against the VAE (the lecture's "VAEs as
autoencoders"), measured by :mod:`ppl_vae.evaluation.latent_space`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ppl_vae.evaluation.generation import fit_codes, greedy_decode
from ppl_vae.evaluation.latent_space import (
    degenerate,
    fluency,
    interpolation_scores,
    reconstruction_scores,
    sentence_words,
)
from ppl_vae.ops.rng import own_rng
from ppl_vae.runs.generate import CODE_ITEMS
from ppl_vae.runs.run import check_vocab, load_run, load_run_data, load_sentence_run

logger = logging.getLogger(__name__)

#: reconstructions kept as examples (the split's first sentences)
REBUILT_EXAMPLES = 8


def compare_latent_spaces(
    runs: dict[str, str | Path],
    language_model: str | Path,
    split: str = "test",
    items: int | None = None,
    samples: int = 500,
    pairs: int = 200,
    steps: int = 5,
    max_length: int = 30,
    seed: int = 0,
    data_dir: str | None = None,
) -> dict[str, dict]:
    """For each sentence run (label -> run directory, on one corpus and vocabulary):

    * reconstruction of the first ``items`` sentences of ``split`` (all by default):
      exact match, token accuracy, BLEU (:func:`~ppl_vae.evaluation.latent_space.
      reconstruction_scores`);
    * ``samples`` greedy decodings from ``z ~ N(0, I)`` and from a Gaussian fitted to the codes
      of the first :data:`~ppl_vae.runs.generate.CODE_ITEMS` training sentences: their NLL per
      token under the RNNLM run ``language_model`` and their share of degenerate sentences;
    * ``pairs`` interpolations of ``steps`` points between random ``split`` sentences: the share
      of inner points that repeat an endpoint or are degenerate, and the midpoints' NLL per
      token under the language model.

    Draws come from a fork of torch's RNG seeded with ``seed``. Returns ``{label: figures}``;
    each figures dict also holds a few ``examples`` of decoded sentences as text.
    """
    lm = load_run(language_model)
    out = {}
    for label, run_dir in runs.items():
        run, vocab = load_sentence_run(run_dir)
        check_vocab(lm.vocab, lm.path, run.vocab, str(run_dir))
        data = load_run_data(run.config, data_dir)
        corpus = data.get(split)
        if items is not None:
            corpus = corpus.subset(np.arange(min(items, len(corpus))))
        logger.info("%s: reconstruction of %d sentences", label, len(corpus))
        rec = reconstruction_scores(run.model, run.guide, corpus, examples=REBUILT_EXAMPLES)
        shown = rec.pop("examples")
        figures = {"reconstruction": rec}
        codes = fit_codes(run.guide, data.train.eval_batches(500), CODE_ITEMS)
        examples = {
            "reconstructions": [
                (" ".join(vocab.decode(a)), " ".join(vocab.decode(b))) for a, b in shown
            ]
        }
        with own_rng(seed):
            for name, z in (
                ("prior", torch.randn(samples, run.config.latent_dim)),
                ("codes", codes.sample((samples,))),
            ):
                words = sentence_words(greedy_decode(run.model, z, max_length))
                figures[f"{name}_nll_per_token"] = fluency(lm.model, words)
                figures[f"{name}_degenerate"] = float(np.mean([degenerate(w) for w in words]))
                figures[f"{name}_distinct"] = len({tuple(w) for w in words}) / len(words)
                examples[name] = [" ".join(vocab.decode(w)) for w in words[:5]]
            inter = interpolation_scores(run.model, run.guide, corpus, pairs, steps, max_length,
                                         seed)  # fmt: skip
        figures["interpolation_repeat_or_degenerate"] = inter["repeat_or_degenerate"]
        figures["interpolation_distinct_inner"] = inter["distinct_inner"]
        figures["midpoint_nll_per_token"] = fluency(lm.model, inter["midpoints"])
        examples["midpoints"] = [" ".join(vocab.decode(w)) for w in inter["midpoints"][:5]]
        figures["examples"] = examples
        figures["code_scale"] = float(codes.stddev.mean())  # the codes' spread, per dimension
        out[label] = figures
    return out
