"""The lecture's KL-collapse toy: a vocabulary {A, B, C} and the sentences AAA, BBB and CCC.

Knowing which of the three sentences is coming is worth ``log 3`` nats. A bag-of-words decoder
can only get it from ``z``, so a VAE with such a decoder uses its latent (KL about log 3). An
LSTM decoder can read it off the first word instead, paying log 3 once, so its VAE tends to
ignore ``z`` (KL -> 0): Bowman et al.'s "tale of two decoders".
"""

from __future__ import annotations

import numpy as np
import torch

from ppl_vae.data.bow import BowCorpus
from ppl_vae.data.sentences import SentenceCorpus, SentenceSplits
from ppl_vae.data.splits import DocumentSplits
from ppl_vae.data.vocabulary import SPECIALS, Vocabulary

LETTERS = ("A", "B", "C")


def _letters(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, len(LETTERS), n)


def abc_sentences(
    train: int = 300, valid: int = 60, test: int = 60, length: int = 3, seed: int = 0
) -> SentenceSplits:
    """Sentences of ``length`` copies of one letter, the letter uniform."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary([*SPECIALS, *LETTERS])
    first = len(SPECIALS)

    def corpus(n: int) -> SentenceCorpus:
        return SentenceCorpus([[first + int(k)] * length for k in _letters(n, rng)], vocab)

    source = {"kind": "abc-toy", "seed": seed}
    return SentenceSplits(corpus(train), corpus(valid), corpus(test), vocab, source)


def abc_bags(
    train: int = 300, valid: int = 60, test: int = 60, length: int = 3, seed: int = 0
) -> DocumentSplits:
    """The same sentences as bags of words (counts over {A, B, C})."""
    rng = np.random.default_rng(seed)

    def corpus(n: int) -> BowCorpus:
        counts = np.zeros((n, len(LETTERS)))
        counts[np.arange(n), _letters(n, rng)] = length
        return BowCorpus.from_dense(counts, list(LETTERS))

    splits = DocumentSplits(corpus(train), corpus(valid), corpus(test), {"kind": "abc-toy"})
    return splits


def letter_of(tokens: torch.Tensor) -> torch.Tensor:
    """The letter (0, 1, 2) of each ``(B, T)`` sentence batch."""
    return tokens[:, 0] - len(SPECIALS)
