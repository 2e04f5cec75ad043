import logging

import numpy as np
import pytest

from ppl_vae.data import DataError, load_documents, load_feat, load_vocab, save_feat, save_vocab


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def vocab_file(tmp_path):
    return write(tmp_path / "vocab.new", "apple 10\nbanana 7\ncherry 3\n")


def test_feat_reads_one_based_ids_as_sparse_counts(tmp_path, vocab_file):
    vocab = load_vocab(vocab_file)
    path = write(tmp_path / "train.feat", "1 1:2 3:1\n2 2:5\n")
    corpus = load_feat(path, vocab)
    assert len(corpus) == 2 and corpus.vocab == ["apple", "banana", "cherry"]
    assert corpus.dense().tolist() == [[2, 0, 1], [0, 5, 0]]
    assert corpus.lengths.tolist() == [3, 5]
    assert corpus.labels == ["1", "2"]
    assert len(corpus.indices) == 3  # sparse, not dense D x V


@pytest.mark.parametrize(
    "line, message",
    [
        ("1 1:2 banana\n", "token 'banana' is not 'id:count'"),
        ("1 1-2\n", "token '1-2' is not 'id:count'"),
        ("1 x:2\n", "is not 'id:count'"),
        ("1 4:1\n", "word id 4 out of range 1..3"),
        ("1 0:1\n", "word id 0 out of range 1..3"),
        ("1 2:0\n", "count '0' of id 2 is not a positive integer"),
        ("1 2:-3\n", "is not a positive integer"),
        ("1 2:1.5\n", "is not a positive integer"),
        ("1 2:1 2:4\n", "word id 2 appears twice"),
        ("1:3 2:1\n", "missing label"),
        ("1 2:inf\n", "count 'inf' of id 2 is not a positive integer"),
        ("1 2:nan\n", "count 'nan' of id 2 is not a positive integer"),
        ("1 \u00b2:1\n", "is not 'id:count'"),
        ("1 2:1e40\n", "is above 16,777,216"),
        ("1 2:1000000000000\n", "the largest count float32"),
        ("1 2:1\x00\n", "control character '\\x00' at column 6"),
    ],
    ids=[
        "bare-word",
        "no-colon",
        "non-integer-id",
        "id-too-large",
        "id-zero",
        "zero-count",
        "negative-count",
        "fractional-count",
        "repeated-id",
        "missing-label",
        "infinite-count",
        "nan-count",
        "superscript-id",
        "count-overflows-float32",
        "count-inexact-in-float32",
        "nul-byte",
    ],
)
def test_feat_bad_token_names_file_line_and_fault(tmp_path, vocab_file, line, message):
    path = write(tmp_path / "train.feat", "1 1:1\n" + line)
    with pytest.raises(DataError) as err:
        load_feat(path, load_vocab(vocab_file))
    assert f"{path}:2:" in str(err.value)
    assert message in str(err.value)
    assert err.value.line == 2


def test_feat_invalid_utf8_is_an_error_with_line(tmp_path, vocab_file):
    path = write(tmp_path / "train.feat", b"1 1:1\n1 2:1\n\xff\xfe 1:1\n", mode="wb")
    with pytest.raises(DataError, match=r"train.feat:3: invalid UTF-8"):
        load_feat(path, load_vocab(vocab_file))


def test_feat_empty_documents_are_skipped_counted_and_logged(tmp_path, vocab_file, caplog):
    path = write(tmp_path / "train.feat", "1 1:1\n2\n\n3 3:2\n")
    with caplog.at_level(logging.WARNING):
        corpus = load_feat(path, load_vocab(vocab_file))
    assert len(corpus) == 2
    assert corpus.report.skipped == 2 and corpus.report.empty_lines == [2, 3]
    assert "skipped 2 empty document(s) at line(s) 2, 3" in caplog.text


def test_missing_vocabulary_is_an_error(tmp_path):
    write(tmp_path / "train.feat", "1 1:1\n")
    write(tmp_path / "test.feat", "1 1:1\n")
    with pytest.raises(DataError, match="no vocabulary file"):
        load_documents(tmp_path)
    with pytest.raises(DataError, match="vocabulary file not found"):
        load_vocab(tmp_path / "vocab.new")


@pytest.mark.parametrize(
    "text, message",
    [
        ("a 1\nb 2 3\n", "expected 'word count'"),
        ("a 1\na 2\n", "repeats line 1"),
        ("a 1\n\nb 2\n", "empty line"),
    ],
    ids=["three-fields", "repeated-word", "blank-line"],
)
def test_bad_vocabulary_names_line(tmp_path, text, message):
    path = write(tmp_path / "vocab.new", text)
    with pytest.raises(DataError, match=message) as err:
        load_vocab(path)
    assert err.value.line is not None


def test_directory_without_valid_holds_out_a_seeded_slice_of_train(tmp_path, vocab_file):
    rng = np.random.default_rng(0)
    lines = "".join(f"{d} {rng.integers(1, 4)}:{d + 1}\n" for d in range(40))
    write(tmp_path / "train.feat", lines)
    write(tmp_path / "test.feat", "1 1:1\n1 2:2\n")
    a = load_documents(tmp_path, valid_fraction=0.25, seed=3)
    b = load_documents(tmp_path, valid_fraction=0.25, seed=3)
    c = load_documents(tmp_path, valid_fraction=0.25, seed=4)
    assert len(a.train) == 30 and len(a.valid) == 10 and len(a.test) == 2
    assert a.valid.labels == b.valid.labels != c.valid.labels
    # held out from train, never from test; nothing lost
    assert sorted(a.train.labels + a.valid.labels, key=int) == [str(d) for d in range(40)]
    assert load_documents(a.source).valid.labels == a.valid.labels


def test_valid_feat_is_used_when_present(tmp_path, vocab_file):
    write(tmp_path / "train.feat", "1 1:1\n1 2:1\n")
    write(tmp_path / "valid.feat", "7 3:1\n")
    write(tmp_path / "test.feat", "1 1:1\n")
    s = load_documents(tmp_path)
    assert len(s.train) == 2 and s.valid.labels == ["7"]


def test_save_and_load_round_trip(tmp_path, tiny_corpus):
    save_feat(tiny_corpus.train, tmp_path / "train.feat")
    save_feat(tiny_corpus.test, tmp_path / "test.feat")
    save_vocab(tiny_corpus.vocab, tmp_path / "vocab.new")
    again = load_documents(tmp_path, valid_fraction=0)
    assert again.vocab == tiny_corpus.vocab
    assert (again.train.dense() == tiny_corpus.train.dense()).all()
