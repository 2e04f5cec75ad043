"""Corpora of sentences as word-id sequences, for sentence VAEs and RNN language models.

Sentences are held as one flat int64 tensor of word ids plus offsets; a padded ``(B, T)``
tensor is only made for one minibatch at a time.

**Token convention.** A batch holds each sentence's words followed by ``<eos>``, padded with
``<pad>``; ``<bos>`` is not stored, the decoder prepends it to its inputs. A sentence of ``n``
words therefore has ``n + 1`` *predicted tokens*: :attr:`SentenceCorpus.lengths` and the token
counts from :meth:`SentenceCorpus.eval_batches` (used for perplexity) count ``<eos>``, as is usual
for the Penn Treebank; :attr:`SentenceCorpus.words` gives ``n`` without it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ppl_vae.data.corpus import log_lines, log_unknown
from ppl_vae.data.errors import DataError
from ppl_vae.data.lines import VALID_NAMES, read_lines, split_files
from ppl_vae.data.synthetic_sentences import SentenceSpec, generate_sentences
from ppl_vae.data.text import tokenize
from ppl_vae.data.vocabulary import (
    BOS,
    EOS,
    EOS_INDEX,
    PAD,
    PAD_INDEX,
    SPECIALS,
    UNK,
    UNK_INDEX,
    Vocabulary,
)

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
BUCKET_BATCHES = 50  # batches per length-sorted pool when shuffling
RESERVED = frozenset({PAD, BOS, EOS})  # may not appear in text; <unk> may

__all__ = [
    "SPECIALS",
    "SentenceCorpus",
    "SentenceLoadReport",
    "SentenceSpec",
    "SentenceSplits",
    "Vocabulary",
    "load_sentence_splits",
    "load_sentences",
    "make_synthetic_sentences",
]


@dataclass
class SentenceLoadReport:
    """What a sentence loader skipped, cut or replaced, so that nothing is lost silently."""

    source: str
    sentences: int = 0
    words: int = 0  # kept, after truncation; without <eos>
    empty_lines: list[int] = field(default_factory=list)
    truncated_lines: list[int] = field(default_factory=list)
    truncated_words: int = 0
    unknown_tokens: int = 0
    unknown_types: int = 0

    def log(self) -> None:
        log_lines(self.source, "skipped %d empty line(s)", self.empty_lines)
        log_lines(self.source, "truncated %d sentence(s)", self.truncated_lines)
        if self.truncated_words:
            logger.warning("%s: truncation dropped %d word(s)", self.source, self.truncated_words)
        log_unknown(self.source, "replaced by <unk>", self.unknown_tokens, self.unknown_types)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "sentences": self.sentences,
            "words": self.words,
            "skipped_empty": len(self.empty_lines),
            "empty_lines": self.empty_lines[:100],
            "truncated": len(self.truncated_lines),
            "truncated_lines": self.truncated_lines[:100],
            "truncated_words": self.truncated_words,
            "unknown_tokens": self.unknown_tokens,
            "unknown_types": self.unknown_types,
        }


#: padded positions per sentence that a sorted evaluation batch may hold on average
EVAL_POSITIONS = 128


class SentenceCorpus:
    """Sentences of word ids over a :class:`Vocabulary`, batched as ``(tokens, lengths)``.

    :param sentences: each sentence's word ids, without ``<bos>``/``<eos>``/``<pad>``.
    :param vocab: the vocabulary the ids refer to.
    """

    #: Sentences per batch when evaluating. Each importance sample scores a ``(B, T, V)`` tensor
    #: of logits, about 32 MB for 32 PTB sentences; sorted batches this small are also nearly
    #: free of padding. On PTB test, 5 samples from a hidden-512 VAE took 45.7 s against 48.3 s
    #: in batches of 500 (2 threads).
    eval_batch_size = 32

    def __init__(
        self,
        sentences: Sequence[Sequence[int] | torch.Tensor],
        vocab: Vocabulary,
        report: SentenceLoadReport | None = None,
    ) -> None:
        sizes = np.array([len(s) for s in sentences], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.ids = (
            torch.cat([torch.as_tensor(s, dtype=torch.int64).reshape(-1) for s in sentences])
            if len(sentences)
            else torch.zeros(0, dtype=torch.int64)
        )
        self.vocab = vocab
        self.report = report
        if len(self.ids):
            if int(self.ids.min()) < 0 or int(self.ids.max()) >= len(vocab):
                raise ValueError("word id out of range of the vocabulary")
            if bool((self.ids < UNK_INDEX).any()):
                raise ValueError("sentences may not contain <pad>, <bos> or <eos> ids")

    # ---- sizes ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def words(self) -> np.ndarray:
        """Words per sentence, without ``<eos>``."""
        return np.diff(self.offsets)

    @property
    def lengths(self) -> np.ndarray:
        """Predicted tokens per sentence: its words plus ``<eos>``."""
        return self.words + 1

    @property
    def num_tokens(self) -> int:
        """Predicted tokens in the corpus, ``<eos>`` included."""
        return int(self.lengths.sum())

    # ---- access ---------------------------------------------------------------------------
    def sentence(self, i: int) -> torch.Tensor:
        """The word ids of sentence ``i`` (a view; no ``<eos>``)."""
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def text(self, i: int) -> str:
        return " ".join(self.vocab.decode(self.sentence(i).tolist()))

    def subset(self, idx: Sequence[int] | np.ndarray) -> SentenceCorpus:
        """The sentences ``idx``, in that order, over the same vocabulary."""
        return SentenceCorpus([self.sentence(int(i)) for i in idx], self.vocab)

    def make_batch(
        self, idx: Sequence[int] | np.ndarray, device: str | torch.device = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's arguments for sentences ``idx``: ``(tokens, lengths)``.

        ``tokens`` is ``(B, T)`` int64 with each sentence's words then ``<eos>``, padded with
        ``<pad>`` to ``T = max words + 1``; ``lengths`` is ``(B,)`` int64, the predicted tokens
        per sentence (``<eos>`` included).
        """
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[idx]
        tokens = torch.full((len(idx), int(lengths.max(initial=1))), PAD_INDEX, dtype=torch.int64)
        for row, i in enumerate(idx):
            n = lengths[row] - 1
            tokens[row, :n] = self.ids[self.offsets[i] : self.offsets[i] + n]
            tokens[row, n] = EOS_INDEX
        return tokens.to(device), torch.from_numpy(lengths).to(device)

    def eval_batches(
        self, batch_size: int, device: str | torch.device = "cpu", by_length: bool = False
    ) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], np.ndarray]]:
        """``((tokens, lengths), tokens per sentence)`` for every sentence once, in corpus order,
        or with ``by_length`` sorted by length (stably).

        Sorting cuts the padding: PTB's test set in batches of 32 has 2.05 positions per
        token in corpus order and 1.02 sorted (2.8 and 1.2 in batches of 500). Per-sentence
        estimates do not depend on how the sentences are grouped, so
        :func:`ppl_vae.evaluation.evaluate` sorts; statistics of a whole batch, such as the
        aggregate posterior of the mutual-information estimate, do, and read corpus order.
        The token counts include ``<eos>`` (see the module's convention).

        Sorted batches also hold at most ``batch_size *`` :data:`EVAL_POSITIONS` padded
        positions: a long sentence (a whole document on one line, say) goes into a smaller
        batch, down to a batch of its own, so that it is scored whole without padding 31
        others to its length. PTB's longest sentences (83 tokens) are far below it.
        """
        lengths = self.lengths
        order = np.argsort(lengths, kind="stable") if by_length else np.arange(len(self))
        budget = batch_size * EVAL_POSITIONS
        start = 0
        while start < len(self):
            idx = order[start : start + batch_size]
            if by_length:  # ascending: the batch's last sentence is its longest
                fits = np.arange(1, len(idx) + 1) * lengths[idx] <= budget
                idx = idx[: max(1, int(fits.sum()))]
            start += len(idx)
            yield self.make_batch(idx, device), lengths[idx]

    def batch_indices(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        bucket_batches: int = BUCKET_BATCHES,
    ) -> list[np.ndarray]:
        """Minibatches of sentences of similar length, so that padding stays small.

        With ``shuffle``, a random order is cut into pools of ``bucket_batches`` batches, each
        pool is sorted by length and cut into batches, and the batches are shuffled. Without,
        the whole corpus is sorted by length (stably) and cut in order. Every sentence appears
        exactly once.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        lengths = self.lengths
        if not shuffle:
            order = np.argsort(lengths, kind="stable")
            return [order[i : i + batch_size] for i in range(0, len(self), batch_size)]
        order = torch.randperm(len(self), generator=generator).numpy()
        pool = batch_size * max(1, bucket_batches)
        batches = []
        for p in range(0, len(self), pool):
            chunk = order[p : p + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        perm = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in perm]

    def padding(self, batches: Sequence[np.ndarray]) -> float:
        """The share of ``(B, T)`` positions that are ``<pad>`` over ``batches``."""
        lengths = self.lengths
        total = sum(len(b) * int(lengths[b].max()) for b in batches if len(b))
        return 1.0 - sum(int(lengths[b].sum()) for b in batches) / max(1, total)

    def __repr__(self) -> str:
        return (
            f"SentenceCorpus(sentences={len(self)}, vocab={self.vocab_size}, "
            f"tokens={self.num_tokens})"
        )


@dataclass
class SentenceSplits:
    """Train/valid/test sentence corpora over one vocabulary built from train.

    ``topics`` and ``templates`` hold each sentence's true generator choices for synthetic
    corpora (by split name), and are None for real text.
    """

    train: SentenceCorpus
    valid: SentenceCorpus | None
    test: SentenceCorpus
    vocab: Vocabulary
    source: dict
    topics: dict[str, np.ndarray] | None = None
    templates: dict[str, np.ndarray] | None = None

    def get(self, split: str) -> SentenceCorpus:
        corpus = getattr(self, split, None)
        if corpus is None:
            raise DataError(str(self.source.get("path", self.source.get("kind"))),
                            f"this corpus has no {split!r} split")  # fmt: skip
        return corpus


def _read_tokenized(path: Path, unk_tokens: frozenset[str] = frozenset()) -> list:
    """``(line number, tokens)`` for every line, empty ones included, with the corpus's own
    unknown markers ``unk_tokens`` read as ``<unk>`` (their count is logged as a warning)."""
    rows = [(n, tokenize(t)) for n, t in read_lines(path)]
    if unk_tokens:
        mapped = sum(tok in unk_tokens for _, toks in rows for tok in toks)
        rows = [(n, [UNK if tok in unk_tokens else tok for tok in toks]) for n, toks in rows]
        # said by default, like the words replaced for being out of the vocabulary; a marker
        # that never occurs is most likely misspelled
        logger.warning("%s: read %d occurrence(s) of %s as <unk>", path, mapped,
                       ", ".join(sorted(unk_tokens)))  # fmt: skip
    return rows


def _encode(
    source: str,
    rows: Sequence[tuple[int | None, list[str]]],
    vocab: Vocabulary,
    max_length: int | None,
) -> SentenceCorpus:
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    report = SentenceLoadReport(source=source)
    unknown: Counter[str] = Counter()
    sentences = []
    for lineno, toks in rows:
        if not toks:
            report.empty_lines.append(lineno)
            continue
        reserved = RESERVED.intersection(toks)
        if reserved:
            raise DataError(source, f"reserved token(s) {sorted(reserved)} in the text", lineno)
        if max_length is not None and len(toks) > max_length:
            report.truncated_lines.append(lineno)
            report.truncated_words += len(toks) - max_length
            toks = toks[:max_length]
        sentences.append(vocab.encode(toks, unknown))
    report.sentences = len(sentences)
    report.words = sum(map(len, sentences))
    report.unknown_tokens = sum(unknown.values())
    report.unknown_types = len(unknown)
    report.log()
    if not sentences:
        raise DataError(source, "no non-empty sentences")
    return SentenceCorpus(sentences, vocab, report)


def load_sentences(
    path: str | Path,
    vocab: Vocabulary,
    max_length: int | None = None,
    unk_tokens: Sequence[str] = (),
) -> SentenceCorpus:
    """One whitespace-tokenized sentence per line of a UTF-8 file.

    Empty lines are skipped, sentences of more than ``max_length`` words are cut to their first
    ``max_length`` words, and words outside ``vocab`` become ``<unk>``; all are counted in
    ``corpus.report`` and logged.

    :raises DataError: naming the file and line, for invalid UTF-8 or a ``<pad>``, ``<bos>`` or
        ``<eos>`` token in the text; naming the file if it is missing or has no sentence.
    """
    path = Path(path)
    return _encode(str(path), _read_tokenized(path, frozenset(unk_tokens)), vocab, max_length)


#: the longest training sentence, in words, unless a caller says otherwise: PTB's longest is 82;
#: longer lines are cut (and counted), so that one runaway line cannot pad its batch to
#: thousands of positions. Validation and test sentences are never cut unless asked.
DEFAULT_MAX_LENGTH = 200


def load_sentence_splits(
    directory: str | Path,
    max_vocab: int | None = 10000,
    min_count: int = 1,
    max_length: int | None = DEFAULT_MAX_LENGTH,
    valid_fraction: float = 0.05,
    seed: int = 0,
    unk_tokens: Sequence[str] = (),
    eval_max_length: int | None = None,
) -> SentenceSplits:
    """Load ``PREFIXtrain.txt``, ``PREFIXtest.txt`` and ``PREFIXvalid.txt`` (or ``val.txt``,
    ``dev.txt``) from ``directory``, for one prefix such as ``"ptb."`` or none.

    The vocabulary (at most ``max_vocab`` entries, specials included; words seen at least
    ``min_count`` times) is built from the whole train split, before truncation. Without a
    valid file, ``valid_fraction`` of train is held out for validation (seeded, and said in
    the log); 0 trains without validation (and so without early stopping). The corpus's own
    unknown markers ``unk_tokens`` (e.g. ``["_UNK"]``) are read as ``<unk>``, and counted.

    Training sentences longer than ``max_length`` words are cut to it (None: never), and
    counted in the log and in ``train.report``. Validation and test sentences, the held-out
    ones included, are scored whole unless ``eval_max_length`` is given, which cuts them too
    (their ``report`` counts it, and evaluation says so).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(directory, "corpus directory not found")
    train_path, valid_path, test_path = split_files(directory, "txt")
    markers = frozenset(unk_tokens)
    train_rows = _read_tokenized(train_path, markers)
    vocab = Vocabulary.build((t for _, t in train_rows), max_vocab, min_count)
    logger.info("%s: vocabulary of %d entries from %s", directory, len(vocab), train_path.name)
    if valid_path:
        valid = load_sentences(valid_path, vocab, eval_max_length, markers)
    else:
        train_rows, valid_rows = _hold_out(directory, train_rows, valid_fraction, seed)
        valid = None
        if valid_rows:
            valid = _encode(f"{train_path} (held out)", valid_rows, vocab, eval_max_length)
    train = _encode(str(train_path), train_rows, vocab, max_length)
    test = load_sentences(test_path, vocab, eval_max_length, markers)
    source = {
        "kind": SENTENCES,
        "path": str(directory.resolve()),
        "max_vocab": max_vocab,
        "min_count": min_count,
        "max_length": max_length,
        "valid_fraction": valid_fraction,
        "seed": seed,
        "unk_tokens": sorted(markers),
    }
    return SentenceSplits(train, valid, test, vocab, source)


def _hold_out(directory: Path, rows: list, fraction: float, seed: int) -> tuple[list, list]:
    """``(train rows, held-out rows)``: ``fraction`` of the non-empty rows held out, or none.
    The same split as holding out sentences of the encoded train split (row order kept)."""
    names = "/".join(f"{n}.txt" for n in VALID_NAMES)
    if fraction <= 0:
        logger.warning("%s: no %s; training without validation", directory, names)
        return rows, []
    sentences = [i for i, (_, toks) in enumerate(rows) if toks]  # rows that become sentences
    perm = np.random.default_rng(seed).permutation(len(sentences))
    n_held = max(1, int(round(fraction * len(sentences))))
    logger.warning(
        "%s: no %s; holding out %d of the %d training sentences (--valid-fraction %g)",
        directory, names, n_held, len(sentences), fraction,
    )  # fmt: skip
    held = {sentences[i] for i in perm[:n_held]}
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


def make_synthetic_sentences(
    spec: SentenceSpec | None = None,
    max_length: int | None = None,
    eval_max_length: int | None = None,
) -> SentenceSplits:
    """Seeded, deterministic splits from the topic-and-template generator of
    :mod:`ppl_vae.data.synthetic_sentences`, with each sentence's true topic and template.

    The vocabulary is built from train; every generator word is in it unless a split is tiny.
    """
    spec = spec or SentenceSpec()
    rng = np.random.default_rng(spec.seed)
    raw = {split: generate_sentences(getattr(spec, split), spec, rng) for split in SPLITS}
    vocab = Vocabulary.build(raw["train"][0])
    corpora = {
        split: _encode(
            f"synthetic:{split}",
            [(i + 1, s) for i, s in enumerate(sents)],
            vocab,
            max_length if split == "train" else eval_max_length,
        )
        for split, (sents, _, _) in raw.items()
    }
    return SentenceSplits(
        corpora["train"],
        corpora["valid"],
        corpora["test"],
        vocab,
        {"kind": SYNTHETIC_SENTENCES, "spec": spec.to_dict(), "max_length": max_length},
        topics={k: v[1] for k, v in raw.items()},
        templates={k: v[2] for k, v in raw.items()},
    )


SENTENCES = "sentences"
SYNTHETIC_SENTENCES = "synthetic-sentences"


def load_sentence_data(
    source: str | Path | dict | None = None,
    max_vocab: int | None = 10000,
    min_count: int = 1,
    max_length: int | None = DEFAULT_MAX_LENGTH,
    valid_fraction: float = 0.05,
    seed: int = 0,
    unk_tokens: Sequence[str] = (),
    eval_max_length: int | None = None,
) -> SentenceSplits:
    """Sentence splits from a directory, ``None``/``"synthetic"`` for the embedded synthetic
    corpus, or the ``source`` dict of earlier splits (as saved in a run's config). See
    :func:`load_sentence_splits` for the directory's layout and the options;
    ``eval_max_length`` cuts validation and test sentences too (a forced truncation)."""
    if isinstance(source, dict):
        if source["kind"] == SYNTHETIC_SENTENCES:
            return make_synthetic_sentences(
                SentenceSpec(**source["spec"]), source.get("max_length"), eval_max_length
            )
        return load_sentence_splits(
            source["path"],
            source.get("max_vocab"),
            source.get("min_count", 1),
            source.get("max_length"),
            source.get("valid_fraction", 0.0),  # runs saved before the hold-out had none
            source.get("seed", 0),
            source.get("unk_tokens", ()),
            eval_max_length,
        )
    if source is None or str(source) == "synthetic":
        return make_synthetic_sentences(max_length=max_length, eval_max_length=eval_max_length)
    return load_sentence_splits(
        source, max_vocab, min_count, max_length, valid_fraction, seed, unk_tokens,
        eval_max_length,
    )  # fmt: skip
