"""A word vocabulary for sentence models, with the special tokens they need.

Ids 0..3 are always ``<pad>``, ``<bos>``, ``<eos>`` and ``<unk>``, in that order; the words
follow, most frequent first (see :func:`~ppl_vae.data.text.build_vocab`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ppl_vae.data.errors import DataError
from ppl_vae.data.lines import read_lines
from ppl_vae.data.text import build_vocab

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_INDEX, BOS_INDEX, EOS_INDEX, UNK_INDEX = range(len(SPECIALS))


class Vocabulary:
    """Words and their ids; ``words[:4]`` must be :data:`SPECIALS`.

    A literal ``<unk>`` in the text (the Penn Treebank has them) is the ``<unk>`` id and is not
    counted as unknown.

    :param words: every entry, specials first; no word may repeat.
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {words[:4]}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        if len(self.index) != len(words):
            repeated = sorted(w for w, c in Counter(words).items() if c > 1)
            raise ValueError(f"repeated word(s) in the vocabulary: {repeated[:10]}")

    @classmethod
    def build(
        cls, sentences: Iterable[Sequence[str]], max_size: int | None = None, min_count: int = 1
    ) -> Vocabulary:
        """The specials, then words seen at least ``min_count`` times, most frequent first.

        ``max_size`` counts the four specials too; it must leave room for them.
        """
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be at least {len(SPECIALS)}, got {max_size}")
        return cls(build_vocab(sentences, max_size, min_count, specials=SPECIALS))

    # ---- lookup ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    __hash__ = None  # mutable list inside; equality is by content

    def encode(self, tokens: Iterable[str], unknown: Counter[str] | None = None) -> list[int]:
        """Ids of ``tokens``; words not in the vocabulary become ``<unk>`` and, if ``unknown``
        is given, are counted in it."""
        ids = []
        for t in tokens:
            i = self.index.get(t)
            if i is None:
                i = UNK_INDEX
                if unknown is not None:
                    unknown[t] += 1
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int], until_eos: bool = False) -> list[str]:
        """Words of ``ids``; with ``until_eos`` stop before the first ``<eos>``."""
        out = []
        for i in ids:
            i = int(i)
            if until_eos and i == EOS_INDEX:
                break
            out.append(self.words[i])
        return out

    # ---- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """One word per line; line *i* (from 1) is id *i - 1*."""
        with Path(path).open("w", encoding="utf-8") as f:
            for w in self.words:
                f.write(w + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a file written by :meth:`save`.

        :raises DataError: naming the file and line, if the file is missing, a line is empty or
            holds more than one word, a word repeats, or the specials are not lines 1 to 4.
        """
        path = Path(path)
        words: list[str] = []
        seen: dict[str, int] = {}
        for lineno, line in read_lines(path):
            parts = line.split()
            if len(parts) != 1:
                what = "empty line" if not parts else f"expected one word, got {line!r}"
                raise DataError(path, f"{what} in vocabulary", lineno)
            word = parts[0]
            if word in seen:
                raise DataError(path, f"word {word!r} repeats line {seen[word]}", lineno)
            if lineno <= len(SPECIALS) and word != SPECIALS[lineno - 1]:
                raise DataError(path, f"expected {SPECIALS[lineno - 1]!r}, got {word!r}", lineno)
            if lineno > len(SPECIALS) and word in SPECIALS:
                raise DataError(path, f"special {word!r} out of place", lineno)
            seen[word] = lineno
            words.append(word)
        if len(words) < len(SPECIALS):
            raise DataError(path, f"vocabulary lacks the specials {SPECIALS}")
        return cls(words)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"
