"""Sparse bag-of-words corpora.

Documents are held in compressed sparse row form (``indptr``, ``indices``, ``counts``); a dense
``(batch, vocab)`` count matrix is only made for one minibatch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ppl_vae.data.corpus import log_lines, log_unknown

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What a loader skipped or dropped, so that nothing is lost silently."""

    source: str
    documents: int = 0
    empty_lines: list[int] = field(default_factory=list)
    unknown_tokens: int = 0
    unknown_types: int = 0

    @property
    def skipped(self) -> int:
        return len(self.empty_lines)

    def log(self) -> None:
        log_lines(self.source, "skipped %d empty document(s)", self.empty_lines)
        log_unknown(self.source, "dropped", self.unknown_tokens, self.unknown_types)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "documents": self.documents,
            "skipped_empty": self.skipped,
            "empty_lines": self.empty_lines[:100],
            "unknown_tokens": self.unknown_tokens,
            "unknown_types": self.unknown_types,
        }


class BowCorpus:
    """A set of documents as sparse word counts over a fixed vocabulary.

    :param indptr: ``(D + 1,)`` row pointers.
    :param indices: word ids (0-based) of the nonzero counts.
    :param counts: the nonzero counts, all > 0.
    :param vocab: the words; ``len(vocab)`` is the vocabulary size.
    :param labels: optional per-document labels (unused by the models).
    :param report: what the loader skipped. Empty documents (no counts) are skipped here too,
        and counted in the report (one is made for an in-memory corpus, with the 1-based row
        numbers of the skipped documents as its "lines"), as the loaders do.
    """

    #: Documents per batch when evaluating: a ``(500, V)`` batch of word probabilities is small.
    eval_batch_size = 500

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        counts: np.ndarray,
        vocab: Sequence[str],
        labels: Sequence[str] | None = None,
        report: LoadReport | None = None,
    ) -> None:
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.float32)
        self.vocab = list(vocab)
        self.labels = list(labels) if labels is not None else None
        self.report = report
        if len(self.indptr) < 1 or self.indptr[-1] != len(self.indices):
            raise ValueError("indptr does not match indices")
        if len(self.indices) != len(self.counts):
            raise ValueError("indices and counts differ in length")
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= len(self.vocab)):
            raise ValueError("word id out of range of the vocabulary")
        empty = np.flatnonzero(self.lengths <= 0)
        if len(empty):
            self._drop_empty(empty)

    def _drop_empty(self, empty: np.ndarray) -> None:
        kept = self.subset(np.setdiff1d(np.arange(len(self)), empty))
        self.indptr, self.indices, self.counts = kept.indptr, kept.indices, kept.counts
        self.labels = kept.labels
        if self.report is None:
            self.report = LoadReport(source="in-memory corpus")
        self.report.empty_lines.extend((empty + 1).tolist())
        self.report.documents = len(self)
        self.report.log()

    # ---- sizes ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per document, ``N_d``."""
        rows = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        return np.bincount(rows, weights=self.counts, minlength=len(self)).astype(np.float32)

    @property
    def num_tokens(self) -> int:
        return int(self.counts.sum())

    def word_totals(self) -> torch.Tensor:
        """Total count of each vocabulary word over the documents, ``(V,)`` float64."""
        return torch.bincount(
            torch.from_numpy(self.indices),
            torch.from_numpy(self.counts).double(),
            minlength=self.vocab_size,
        )

    # ---- access ---------------------------------------------------------------------------
    def subset(self, idx: Sequence[int] | np.ndarray) -> BowCorpus:
        """The documents ``idx``, in that order, as a new corpus over the same vocabulary."""
        idx = np.asarray(idx, dtype=np.int64)
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        sizes = ends - starts
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        take = (
            np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
            if len(idx)
            else (np.zeros(0, dtype=np.int64))
        )
        labels = [self.labels[i] for i in idx] if self.labels is not None else None
        return BowCorpus(indptr, self.indices[take], self.counts[take], self.vocab, labels)

    def dense(
        self, idx: Sequence[int] | np.ndarray | None = None, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """A dense ``(len(idx), V)`` float tensor of counts for documents ``idx`` (all if None)."""
        idx = np.arange(len(self)) if idx is None else np.asarray(idx, dtype=np.int64)
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        sizes = ends - starts
        rows = np.repeat(np.arange(len(idx)), sizes)
        take = (
            np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
            if len(idx)
            else (np.zeros(0, dtype=np.int64))
        )
        out = torch.zeros(len(idx), self.vocab_size)
        out[torch.from_numpy(rows), torch.from_numpy(self.indices[take])] = torch.from_numpy(
            self.counts[take]
        )
        return out.to(device)

    def make_batch(self, idx: np.ndarray, device: str | torch.device = "cpu") -> tuple:
        """The model's arguments for documents ``idx``: ``(counts,)``."""
        return (self.dense(idx, device),)

    def eval_batches(
        self, batch_size: int, device: str | torch.device = "cpu", by_length: bool = False
    ) -> Iterator[tuple[tuple, np.ndarray]]:
        """``(model args, tokens per document)`` for every document, in order. ``by_length``
        is part of the corpus interface (see :class:`~ppl_vae.data.sentences.SentenceCorpus`);
        dense count vectors have no padding, so it changes nothing here."""
        lengths = self.lengths
        for idx in self.batch_indices(batch_size):
            yield self.make_batch(idx, device), lengths[idx]

    def batch_indices(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> list[np.ndarray]:
        order = (
            torch.randperm(len(self), generator=generator).numpy()
            if shuffle
            else np.arange(len(self))
        )
        return [order[i : i + batch_size] for i in range(0, len(self), batch_size)]

    def split(self, fraction: float, seed: int) -> tuple[BowCorpus, BowCorpus]:
        """A seeded random split into ``(rest, held_out)`` with ``fraction`` held out."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        perm = np.random.default_rng(seed).permutation(len(self))
        n_held = max(1, int(round(fraction * len(self))))
        return self.subset(np.sort(perm[n_held:])), self.subset(np.sort(perm[:n_held]))

    @classmethod
    def from_dense(cls, counts: np.ndarray | torch.Tensor, vocab: Sequence[str]) -> BowCorpus:
        counts = np.asarray(counts)
        rows, cols = np.nonzero(counts)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=counts.shape[0]))])
        return cls(indptr, cols, counts[rows, cols], vocab)

    def __repr__(self) -> str:
        return (
            f"BowCorpus(documents={len(self)}, vocab={self.vocab_size}, tokens={self.num_tokens})"
        )
