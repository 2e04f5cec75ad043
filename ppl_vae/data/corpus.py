"""The seam between data and everything that trains or evaluates on it.

:class:`Corpus` is what the trainer (:func:`ppl_vae.training.train`), the evaluation
(:func:`ppl_vae.evaluation.evaluate`) and the analyses ask of a split: its size, shuffled
minibatches of indices, the model's arguments for a batch, and evaluation batches with each
item's token count. :class:`~ppl_vae.data.BowCorpus` (bags of words, the model's argument is a
``(B, V)`` count matrix) and :class:`~ppl_vae.data.sentences.SentenceCorpus` (the arguments are
``(tokens, lengths)``) implement it; a user's own corpus class needs only these members.

:func:`log_lines` and :func:`log_unknown` are the warnings the loaders' reports share, so that
what a loader skips, cuts or replaces is never lost silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

logger = logging.getLogger(__name__)


@runtime_checkable
class Corpus(Protocol):
    """One split of a corpus, as training and evaluation use it."""

    #: items per batch when evaluating
    eval_batch_size: int

    def __len__(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def lengths(self) -> np.ndarray:
        """Tokens each item contributes to perplexity."""
        ...

    def batch_indices(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> list[np.ndarray]:
        """The items of each minibatch of one epoch."""
        ...

    def make_batch(self, idx: np.ndarray, device: str | torch.device = "cpu") -> tuple:
        """The model's (and guide's) positional arguments for the items ``idx``."""
        ...

    def eval_batches(
        self, batch_size: int, device: str | torch.device = "cpu", by_length: bool = False
    ) -> Iterator[tuple[tuple, np.ndarray]]:
        """``(args, tokens)`` for every item once: the arguments of a batch and the token count
        of each of its items (grouped by length when ``by_length``)."""
        ...


def log_lines(source: str, what: str, lines: Sequence[int]) -> None:
    """Warn that ``what`` (e.g. ``"skipped %d empty line(s)"``) happened at ``lines``."""
    if lines:
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        logger.warning(f"%s: {what} at line(s) %s", source, len(lines), shown)


def log_unknown(source: str, action: str, tokens: int, types: int) -> None:
    """Warn that ``tokens`` tokens of ``types`` word types not in the vocabulary were
    ``action`` (e.g. ``"dropped"``)."""
    if tokens:
        logger.warning(
            "%s: %s %d token(s) of %d word type(s) not in the vocabulary",
            source, action, tokens, types,
        )  # fmt: skip
