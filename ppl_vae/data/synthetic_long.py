"""A known generator of long documents (50 to 200 tokens) built from the embedded sentence
generator's templates, in which two latent topics and their proportion shape every sentence.

Each document draws two distinct topics, a proportion ``pi ~ Uniform(0, 1)`` of the first and a
target length in ``[min_length, max_length]``; it then adds sentences until the target is
reached (the last one may end it early, never past ``max_length``). Each sentence takes the
first topic with probability ``pi``, else the second, and fills its slots as
:func:`~ppl_vae.data.synthetic_sentences.generate_sentences` does (own topic with probability
``purity``). A content word is written as the corpus's own unknown marker ``unk_marker`` with
probability ``unk_rate``, as in corpora preprocessed elsewhere (``--unk-token``).

A sentence VAE's latent variable can carry the pair of topics and their proportion, which an
RNN language model must infer from the words already read; so over a long document ``z`` is
worth a few nats, against a decoder strong enough to do without it (the setting in which a
sentence VAE collapses). :func:`write_long_documents` writes the corpus as a user's own text:
``train.txt``, ``valid.txt`` and ``test.txt``, a document per line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ppl_vae.data.synthetic_sentences import TEMPLATES, fill_template


@dataclass
class LongDocumentSpec:
    """The generator's settings; the same spec always gives the same documents."""

    num_topics: int = 8
    words_per_topic: int = 6  # per slot kind
    purity: float = 0.9
    min_length: int = 50
    max_length: int = 200
    unk_rate: float = 0.02
    unk_marker: str = "_UNK"
    train: int = 10_000
    valid: int = 500
    test: int = 500
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _sentence(topic: int, spec: LongDocumentSpec, rng: np.random.Generator) -> list[str]:
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return fill_template(template, topic, spec, rng, spec.unk_rate, spec.unk_marker)


def generate_long_documents(
    n: int, spec: LongDocumentSpec, rng: np.random.Generator
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """``n`` tokenized documents, their topic pairs ``(n, 2)`` and proportions ``(n,)``."""
    if spec.num_topics < 2:
        raise ValueError(f"num_topics must be >= 2, got {spec.num_topics}")
    if not 0 < spec.min_length <= spec.max_length:
        raise ValueError(f"need 0 < min_length <= max_length, got {spec.min_length}, "
                         f"{spec.max_length}")  # fmt: skip
    documents, pairs, proportions = [], np.zeros((n, 2), np.int64), np.zeros(n)
    for i in range(n):
        pair = rng.choice(spec.num_topics, size=2, replace=False)
        pi = rng.random()
        target = int(rng.integers(spec.min_length, spec.max_length + 1))
        words: list[str] = []
        while len(words) < target:
            topic = int(pair[0] if rng.random() < pi else pair[1])
            words.extend(_sentence(topic, spec, rng))
        documents.append(words[: spec.max_length])
        pairs[i], proportions[i] = pair, pi
    return documents, pairs, proportions


def write_long_documents(directory: str | Path, spec: LongDocumentSpec | None = None) -> Path:
    """Write ``train.txt``, ``valid.txt`` and ``test.txt`` (a document per line) into
    ``directory`` (created; existing files of those names are refused) and return it."""
    spec = spec or LongDocumentSpec()
    directory = Path(directory)
    names = ("train", "valid", "test")
    clash = [n for n in names if (directory / f"{n}.txt").exists()]
    if clash:
        raise FileExistsError(f"{directory / (clash[0] + '.txt')} exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    for name in names:
        documents, _, _ = generate_long_documents(getattr(spec, name), spec, rng)
        text = "".join(" ".join(words) + "\n" for words in documents)
        (directory / f"{name}.txt").write_text(text)
    return directory
