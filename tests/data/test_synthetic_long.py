import numpy as np
import pytest

from ppl_vae.data.sentences import load_sentence_splits
from ppl_vae.data.synthetic_long import (
    LongDocumentSpec,
    generate_long_documents,
    write_long_documents,
)


def test_documents_are_long_and_follow_their_two_topics():
    spec = LongDocumentSpec(unk_rate=0.0)
    docs, pairs, pi = generate_long_documents(300, spec, np.random.default_rng(0))
    lengths = np.array([len(d) for d in docs])
    assert lengths.min() >= spec.min_length and lengths.max() <= spec.max_length
    assert lengths.mean() > 100  # targets are uniform on [50, 200]
    assert (pairs[:, 0] != pairs[:, 1]).all() and ((0 <= pi) & (pi <= 1)).all()
    # content words come from the pair's topics with probability near purity (0.9), plus a
    # chance hit of a pair topic from the uniform draw (0.1 * 2 / 8)
    own = total = 0
    for words, pair in zip(docs, pairs):
        topics = [int(w.split("_")[0][-1]) for w in words if "_" in w]
        own += sum(t in pair for t in topics)
        total += len(topics)
    assert own / total == pytest.approx(0.9 + 0.1 * 2 / 8, abs=0.01)


def test_the_same_spec_gives_the_same_corpus_and_the_marker_appears(tmp_path):
    a = write_long_documents(tmp_path / "a", LongDocumentSpec(train=200, valid=5, test=5))
    b = write_long_documents(tmp_path / "b", LongDocumentSpec(train=200, valid=5, test=5))
    for name in ("train.txt", "valid.txt", "test.txt"):
        assert (a / name).read_text() == (b / name).read_text()
    words = (a / "train.txt").read_text().split()
    # 19 of the templates' 40 tokens are content words
    assert words.count("_UNK") / len(words) == pytest.approx(0.02 * 19 / 40, abs=0.002)
    splits = load_sentence_splits(a, unk_tokens=frozenset({"_UNK"}))
    assert len(splits.get("train")) == 200 and "_UNK" not in splits.vocab


def test_an_existing_corpus_is_never_overwritten(tmp_path):
    write_long_documents(tmp_path, LongDocumentSpec(train=3, valid=1, test=1))
    with pytest.raises(FileExistsError, match="train.txt exists"):
        write_long_documents(tmp_path, LongDocumentSpec(train=3, valid=1, test=1))
