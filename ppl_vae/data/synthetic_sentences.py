"""A known generator of short sentences in which a latent topic shapes every content word.

Each sentence draws a topic ``k`` and a template; every slot of the template (noun, verb,
adjective) is filled from topic ``k``'s own words with probability ``purity``, else from any
topic. Function words (``the``, ``a``, ``and`` ...) are shared. A sentence VAE's latent variable
can carry the topic (and the template), which an RNN language model must instead infer from the
words already seen, so the sentence VAE has something real to gain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

TEMPLATES = (
    "the {adj} {noun} {verb} .",
    "a {noun} {verb} the {noun} .",
    "the {noun} and the {noun} {verb} together .",
    "{noun} {verb} .",
    "every {adj} {noun} {verb} a {adj} {noun} in the {noun} .",
    "why does the {noun} {verb} ?",
)
SLOTS = ("noun", "verb", "adj")


@dataclass
class SentenceSpec:
    """The generator's settings; the same spec always gives the same sentences."""

    num_topics: int = 4
    words_per_topic: int = 6  # per slot kind
    purity: float = 0.9
    train: int = 2000
    valid: int = 200
    test: int = 200
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def topic_word(slot: str, topic: int, j: int) -> str:
    return f"{slot}{topic}_{j}"


def generate_sentences(
    n: int, spec: SentenceSpec, rng: np.random.Generator
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """``n`` tokenized sentences with their topics and template ids (each ``(n,)`` int64)."""
    if not 0.0 <= spec.purity <= 1.0:
        raise ValueError(f"purity must be in [0, 1], got {spec.purity}")
    topics = rng.integers(spec.num_topics, size=n)
    templates = rng.integers(len(TEMPLATES), size=n)
    sentences = [fill_template(TEMPLATES[t], int(k), spec, rng) for k, t in zip(topics, templates)]
    return sentences, topics.astype(np.int64), templates.astype(np.int64)


def fill_template(
    template: str,
    topic: int,
    spec,
    rng: np.random.Generator,
    unk_rate: float = 0.0,
    unk_marker: str = "<unk>",
) -> list[str]:
    """The words of one sentence: each slot of ``template`` filled from ``topic``'s own words
    with probability ``spec.purity``, else from any of ``spec.num_topics``; with ``unk_rate``
    > 0, each content word is then written ``unk_marker`` with that probability (one more draw
    per content word; none at 0, so the stream of draws is the same as without it)."""
    words = []
    for piece in template.split():
        if not piece.startswith("{"):
            words.append(piece)
            continue
        own = rng.random() < spec.purity
        t = topic if own else int(rng.integers(spec.num_topics))
        word = topic_word(piece[1:-1], t, int(rng.integers(spec.words_per_topic)))
        words.append(unk_marker if unk_rate > 0 and rng.random() < unk_rate else word)
    return words
