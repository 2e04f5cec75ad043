"""Train/valid/test bag-of-words splits, loaded from a directory or generated."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ppl_vae.data.bow import BowCorpus
from ppl_vae.data.errors import DataError
from ppl_vae.data.feat import load_feat, load_vocab
from ppl_vae.data.lines import split_files
from ppl_vae.data.synthetic import SyntheticCorpus, SyntheticSpec, make_synthetic_corpus
from ppl_vae.data.text import load_text_bow

logger = logging.getLogger(__name__)

SYNTHETIC = "synthetic"
VOCAB_FILES = ("vocab.new", "vocab.txt", "vocab")


def data_root() -> Path:
    """Where real corpora live: ``$PPL_VAE_DATA``, else ``../shared/data`` from the cwd."""
    return Path(os.environ.get("PPL_VAE_DATA", "../shared/data"))


@dataclass
class DocumentSplits:
    """The splits of one bag-of-words corpus, all over the same vocabulary.

    ``source`` is plain data (a path or the synthetic spec) from which :func:`load_documents`
    can load the same splits again, e.g. when evaluating a saved run.
    """

    train: BowCorpus
    valid: BowCorpus | None
    test: BowCorpus
    source: dict
    synthetic: SyntheticCorpus | None = None

    @property
    def vocab(self) -> list[str]:
        return self.train.vocab

    def get(self, split: str) -> BowCorpus:
        corpus = getattr(self, split, None)
        if corpus is None:
            raise DataError(str(self.source.get("path", self.source.get("kind"))),
                            f"this corpus has no {split!r} split")  # fmt: skip
        return corpus


def load_documents(
    source: str | Path | dict | None = None,
    valid_fraction: float = 0.05,
    seed: int = 0,
    max_vocab: int | None = 2000,
    min_count: int = 1,
) -> DocumentSplits:
    """Load a bag-of-words corpus.

    :param source: a directory, ``"synthetic"`` / ``None`` for the embedded default, or the
        ``source`` dict of an earlier :class:`DocumentSplits`. A directory holds either the NVDM
        format (``train.feat``, ``test.feat``, optional ``valid.feat`` and ``vocab.new``) or plain
        text, one document per line (``train.txt``, ``test.txt``, optional ``valid.txt``), from
        whose train split a vocabulary of at most ``max_vocab`` words with ``min_count`` is built.
    :param valid_fraction: without a valid split, this share of *train* (never test) is held
        out with ``seed``. 0 means no validation set.
    """
    if isinstance(source, dict):
        if source["kind"] == SYNTHETIC:
            return _synthetic(SyntheticSpec(**source.get("spec", {})))
        return load_documents(
            source["path"],
            source.get("valid_fraction", valid_fraction),
            source.get("seed", seed),
            source.get("max_vocab", max_vocab),
            source.get("min_count", min_count),
        )
    if source is None or str(source) == SYNTHETIC:
        return _synthetic(SyntheticSpec())
    root = Path(source)
    if not root.is_dir():
        raise DataError(root, "corpus directory not found")
    base = {"path": str(root.resolve()), "valid_fraction": valid_fraction, "seed": seed}
    if any(root.glob("*train.feat")):
        train_path, valid_path, test_path = split_files(root, "feat")
        vocab_file = next((root / v for v in VOCAB_FILES if (root / v).exists()), None)
        if vocab_file is None:
            raise DataError(
                root, f"no vocabulary file ({' or '.join(VOCAB_FILES)}) beside {train_path.name}"
            )
        vocab = load_vocab(vocab_file)
        train, test = load_feat(train_path, vocab), load_feat(test_path, vocab)
        valid = load_feat(valid_path, vocab) if valid_path else None
        source_dict = {"kind": "feat", **base}
    elif any(root.glob("*train.txt")):
        train_path, valid_path, test_path = split_files(root, "txt")
        train = load_text_bow(train_path, max_size=max_vocab, min_count=min_count)
        test = load_text_bow(test_path, vocab=train.vocab)
        valid = load_text_bow(valid_path, vocab=train.vocab) if valid_path else None
        source_dict = {"kind": "text", "max_vocab": max_vocab, "min_count": min_count, **base}
    else:
        raise DataError(root, "expected train.feat (NVDM format) or train.txt (one doc per line)")
    if valid is None and valid_fraction > 0:
        train, valid = train.split(valid_fraction, seed)
        logger.warning(
            "%s: no valid/val/dev split; holding out %d of the training documents "
            "(--valid-fraction %g)", root, len(valid), valid_fraction,
        )  # fmt: skip
    elif valid is None:
        logger.warning("%s: no valid/val/dev split, and none held out (valid_fraction 0)", root)
    return DocumentSplits(train, valid, test, source_dict)


def _synthetic(spec: SyntheticSpec) -> DocumentSplits:
    syn = make_synthetic_corpus(spec)
    return DocumentSplits(
        syn.train, syn.valid, syn.test, {"kind": SYNTHETIC, "spec": spec.to_dict()}, synthetic=syn
    )
