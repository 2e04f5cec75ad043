import logging

import pytest

from ppl_vae.data import DataError, build_vocab, load_documents, load_text_bow


def test_build_vocab_orders_by_count_and_respects_limits():
    docs = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    assert build_vocab(docs) == ["a", "b", "c", "d"]
    assert build_vocab(docs, min_count=2) == ["a", "b"]
    assert build_vocab(docs, max_size=3) == ["a", "b", "c"]
    assert build_vocab(docs, max_size=3, specials=("<unk>",)) == ["<unk>", "a", "b"]


def test_text_bow_counts_unknown_words_and_empty_lines(tmp_path, caplog):
    (tmp_path / "train.txt").write_text("a b a\nb c\n\n")
    (tmp_path / "test.txt").write_text("a zebra\nzebra yak\nc\n")
    train = load_text_bow(tmp_path / "train.txt")
    assert train.vocab == ["a", "b", "c"] and train.report.empty_lines == [3]
    with caplog.at_level(logging.WARNING):
        test = load_text_bow(tmp_path / "test.txt", vocab=train.vocab)
    assert len(test) == 2  # "zebra yak" is empty after dropping unknown words
    assert test.report.unknown_tokens == 3 and test.report.unknown_types == 2
    assert test.report.empty_lines == [2]
    assert "dropped 3 token(s) of 2 word type(s)" in caplog.text


def test_text_directory_loads(tmp_path):
    (tmp_path / "train.txt").write_text("x y\ny z\nx x\nz y\n")
    (tmp_path / "test.txt").write_text("x\n")
    s = load_documents(tmp_path, valid_fraction=0.25)
    assert len(s.train) == 3 and len(s.valid) == 1 and s.source["kind"] == "text"


def test_text_invalid_utf8(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"fine\nbad \xc3\x28 byte\n")
    with pytest.raises(DataError, match=r"train.txt:2: invalid UTF-8"):
        load_text_bow(tmp_path / "train.txt")


def test_unknown_directory_layout(tmp_path):
    with pytest.raises(DataError, match="expected train.feat"):
        load_documents(tmp_path)
    with pytest.raises(DataError, match="corpus directory not found"):
        load_documents(tmp_path / "nope")
