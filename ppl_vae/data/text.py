"""Plain-text documents, one per line, turned into bags of words over a built vocabulary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ppl_vae.data.bow import BowCorpus, LoadReport
from ppl_vae.data.errors import DataError
from ppl_vae.data.lines import read_lines


def tokenize(line: str, lowercase: bool = False) -> list[str]:
    """Whitespace tokens; PTB-style corpora are already tokenized and lower-cased."""
    return (line.lower() if lowercase else line).split()


def build_vocab(
    documents: Iterable[list[str]],
    max_size: int | None = None,
    min_count: int = 1,
    specials: tuple[str, ...] = (),
) -> list[str]:
    """The ``specials`` then the words seen at least ``min_count`` times, most frequent first.

    Ties are broken alphabetically so the vocabulary is deterministic. ``max_size`` counts the
    specials too.
    """
    counter: Counter[str] = Counter()
    for doc in documents:
        counter.update(doc)
    for s in specials:
        counter.pop(s, None)
    words = sorted(
        (w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w)
    )
    if max_size is not None:
        words = words[: max(0, max_size - len(specials))]
    return list(specials) + words


def read_documents(path: str | Path, lowercase: bool = False) -> list[tuple[int, list[str]]]:
    """``(line_number, tokens)`` for every non-empty line (empty ones are reported by callers)."""
    return [(n, tokenize(t, lowercase)) for n, t in read_lines(path)]


def load_text_bow(
    path: str | Path,
    vocab: list[str] | None = None,
    max_size: int | None = None,
    min_count: int = 1,
    lowercase: bool = False,
) -> BowCorpus:
    """Bag-of-words corpus from a text file with one document per line.

    With ``vocab=None`` the vocabulary is built from this file (``max_size``, ``min_count``).
    Words outside the vocabulary are dropped and counted; empty documents (including documents
    left empty after dropping) are skipped and counted. Both appear in ``corpus.report``.
    """
    path = Path(path)
    docs = read_documents(path, lowercase)
    if vocab is None:
        vocab = build_vocab((toks for _, toks in docs), max_size, min_count)
        if not vocab:
            raise DataError(path, "no word reaches min_count; the vocabulary would be empty")
    index = {w: i for i, w in enumerate(vocab)}
    report = LoadReport(source=str(path))
    unknown: Counter[str] = Counter()
    indptr, indices, counts = [0], [], []
    for lineno, toks in docs:
        c = Counter()
        for t in toks:
            if t in index:
                c[index[t]] += 1
            else:
                unknown[t] += 1
        if not c:
            report.empty_lines.append(lineno)
            continue
        ids = sorted(c)
        indices.extend(ids)
        counts.extend(c[i] for i in ids)
        indptr.append(len(indices))
    report.documents = len(indptr) - 1
    report.unknown_tokens = sum(unknown.values())
    report.unknown_types = len(unknown)
    report.log()
    if report.documents == 0:
        raise DataError(path, "no non-empty documents")
    return BowCorpus(np.array(indptr), np.array(indices), np.array(counts), vocab, report=report)
