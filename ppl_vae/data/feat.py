"""The NVDM release format: ``label id:count ...`` lines with 1-based ids, and ``vocab.new``.

Miao, Yu and Blunsom (2016), "Neural Variational Inference for Text Processing", ICML; the
20 Newsgroups files of https://github.com/ysmiao/nvdm use this format.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ppl_vae.data.bow import BowCorpus, LoadReport
from ppl_vae.data.errors import DataError
from ppl_vae.data.lines import read_lines

#: the largest count that float32, in which the models hold counts, stores exactly (2^24)
MAX_COUNT = 2**24

logger = logging.getLogger(__name__)


def load_vocab(path: str | Path) -> list[str]:
    """Read a vocabulary file of ``word count`` (or bare ``word``) lines; line *i* is id *i*.

    :raises DataError: if the file is missing, a line is malformed, or a word repeats.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "vocabulary file not found")
    words: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in read_lines(path):
        parts = line.split()
        if not parts:
            raise DataError(path, "empty line in vocabulary", lineno)
        if len(parts) > 2 or (len(parts) == 2 and not _is_int(parts[1])):
            raise DataError(path, f"expected 'word count' or 'word', got {line!r}", lineno)
        word = parts[0]
        if word in seen:
            raise DataError(path, f"word {word!r} repeats line {seen[word]}", lineno)
        seen[word] = lineno
        words.append(word)
    if not words:
        raise DataError(path, "vocabulary is empty")
    return words


def load_feat(path: str | Path, vocab: list[str]) -> BowCorpus:
    """Read a ``.feat`` file of ``label id:count ...`` lines against ``vocab``.

    Ids are 1-based, as in the NVDM release. Empty documents (a label and no words) are skipped,
    counted in :attr:`BowCorpus.report` and logged.

    :raises DataError: naming the file and line, for a token that is not ``id:count``, an id
        outside ``1..len(vocab)``, a repeated id, a count <= 0, or invalid UTF-8.
    """
    path = Path(path)
    V = len(vocab)
    report = LoadReport(source=str(path))
    indptr = [0]
    indices: list[int] = []
    counts: list[float] = []
    labels: list[str] = []
    for lineno, line in read_lines(path):
        parts = line.split()
        if not parts:
            report.empty_lines.append(lineno)
            continue
        label, tokens = parts[0], parts[1:]
        if ":" in label:
            raise DataError(path, f"missing label: line starts with {label!r}", lineno)
        seen: set[int] = set()
        for tok in tokens:
            i, sep, c = tok.partition(":")
            if not sep or not _is_int(i) or not _is_number(c):
                raise DataError(path, f"token {tok!r} is not 'id:count'", lineno)
            wid, cnt = int(i), float(c)
            if not 1 <= wid <= V:
                raise DataError(
                    path, f"word id {wid} out of range 1..{V} (ids are 1-based)", lineno
                )
            if not math.isfinite(cnt) or not cnt > 0 or cnt != int(cnt):
                raise DataError(path, f"count {c!r} of id {wid} is not a positive integer", lineno)
            if cnt > MAX_COUNT:
                raise DataError(
                    path,
                    f"count {c!r} of id {wid} is above {MAX_COUNT:,}, the largest count float32 "
                    "(the model's precision) holds exactly",
                    lineno,
                )
            if wid in seen:
                raise DataError(path, f"word id {wid} appears twice", lineno)
            seen.add(wid)
            indices.append(wid - 1)
            counts.append(cnt)
        if not tokens:
            report.empty_lines.append(lineno)
            continue
        labels.append(label)
        indptr.append(len(indices))
    report.documents = len(labels)
    report.log()
    if not labels:
        raise DataError(path, "no documents")
    return BowCorpus(
        np.array(indptr), np.array(indices), np.array(counts), vocab, labels, report=report
    )


def save_feat(corpus: BowCorpus, path: str | Path) -> None:
    """Write ``corpus`` in the ``.feat`` format (1-based ids); labels default to 0."""
    labels = corpus.labels or ["0"] * len(corpus)
    with Path(path).open("w", encoding="utf-8") as f:
        for d in range(len(corpus)):
            s, e = corpus.indptr[d], corpus.indptr[d + 1]
            toks = " ".join(
                f"{i + 1}:{int(c)}" for i, c in zip(corpus.indices[s:e], corpus.counts[s:e])
            )
            f.write(f"{labels[d]} {toks}\n")


def save_vocab(vocab: list[str], path: str | Path, counts: np.ndarray | None = None) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for i, w in enumerate(vocab):
            f.write(f"{w} {int(counts[i])}\n" if counts is not None else f"{w}\n")


def _is_int(s: str) -> bool:
    """An ASCII integer: ``str.isdigit`` alone also accepts digits like ``²``."""
    digits = s.lstrip("+-")
    return digits.isascii() and digits.isdigit()


def _is_number(s: str) -> bool:
    if not s.isascii():
        return False
    try:
        float(s)
    except ValueError:
        return False
    return True
