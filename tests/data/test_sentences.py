import logging
import re
from collections import Counter

import numpy as np
import pytest
import torch

from ppl_vae.data import DataError
from ppl_vae.data.sentences import (
    DEFAULT_MAX_LENGTH,
    EVAL_POSITIONS,
    SPECIALS,
    SentenceCorpus,
    SentenceSpec,
    Vocabulary,
    load_sentence_splits,
    load_sentences,
    make_synthetic_sentences,
)

HEAD = b"<pad>\n<bos>\n<eos>\n<unk>\n"  # the specials, lines 1 to 4
SENTENCES = [["b", "a", "a"], ["c", "a", "b"], ["d", "<unk>"]]


def test_vocabulary_specials_first_and_limits():
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.words[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] == list(SPECIALS)
    assert vocab.words[4:] == ["a", "b", "c", "d"]  # a literal <unk> is not a second entry
    assert Vocabulary.build(SENTENCES, min_count=2).words[4:] == ["a", "b"]
    assert len(Vocabulary.build(SENTENCES, max_size=6)) == 6  # max_size counts the specials
    with pytest.raises(ValueError, match="at least 4"):
        Vocabulary.build(SENTENCES, max_size=3)
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "<pad>", "<bos>", "<eos>", "<unk>"])


def test_vocabulary_encode_counts_unknown_words_and_decodes():
    vocab = Vocabulary.build(SENTENCES, max_size=6)  # a, b
    unknown: Counter[str] = Counter()
    ids = vocab.encode(["a", "zebra", "b", "zebra", "c", "<unk>"], unknown)
    assert ids == [4, 3, 5, 3, 3, 3]
    assert unknown == {"zebra": 2, "c": 1}  # the literal <unk> is known
    assert vocab.decode(ids) == ["a", "<unk>", "b", "<unk>", "<unk>", "<unk>"]
    assert vocab.decode([4, 5, 2, 4], until_eos=True) == ["a", "b"]


def test_vocabulary_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build(SENTENCES)
    vocab.save(tmp_path / "vocab.txt")
    assert (tmp_path / "vocab.txt").read_text().splitlines()[:5] == [*SPECIALS, "a"]
    loaded = Vocabulary.load(tmp_path / "vocab.txt")
    assert loaded == vocab and loaded != Vocabulary.build(SENTENCES, max_size=5)


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param(HEAD + b"a\n\n", r"vocab.txt:6: empty line", id="empty-line"),
        pytest.param(HEAD + b"a b\n", r"vocab.txt:5: expected one word", id="two-words"),
        pytest.param(HEAD + b"a\na\n", r"vocab.txt:6: word 'a' repeats line 5", id="repeat"),
        pytest.param(
            b"<pad>\n<eos>\n<bos>\n<unk>\n", r"vocab.txt:2: expected '<bos>'", id="special-order"
        ),
        pytest.param(b"<pad>\n<bos>\n", r"vocab.txt: vocabulary lacks", id="too-short"),
        pytest.param(HEAD + b"\xff\n", r"vocab.txt:5: invalid UTF-8", id="bad-utf8"),
    ],
)
def test_vocabulary_load_names_file_and_line(tmp_path, content, message):
    (tmp_path / "vocab.txt").write_bytes(content)
    with pytest.raises(DataError, match=message):
        Vocabulary.load(tmp_path / "vocab.txt")


def test_load_counts_empty_lines_truncations_and_unknown_words(tmp_path, caplog):
    vocab = Vocabulary.build([["a", "b", "c"]])
    (tmp_path / "s.txt").write_text("a b c a b\n\nzebra a\n  \nc\n")
    with caplog.at_level(logging.WARNING):
        corpus = load_sentences(tmp_path / "s.txt", vocab, max_length=3)
    r = corpus.report
    assert len(corpus) == r.sentences == 3
    assert r.empty_lines == [2, 4]
    assert r.truncated_lines == [1] and r.truncated_words == 2
    assert r.unknown_tokens == 1 and r.unknown_types == 1
    assert corpus.words.tolist() == [3, 2, 1] and corpus.lengths.tolist() == [4, 3, 2]
    assert corpus.text(1) == "<unk> a"
    assert "skipped 2 empty line(s)" in caplog.text and "truncated 1 sentence(s)" in caplog.text
    assert r.to_dict()["unknown_tokens"] == 1


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param(b"fine\nbad \xc3\x28 byte\n", r"s.txt:2: invalid UTF-8", id="invalid-utf8"),
        pytest.param(b"a\nb <eos> c\n", r"s.txt:2: reserved token", id="reserved-token"),
        pytest.param(b"\n\n", r"s.txt: no non-empty sentences", id="only-empty"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "s.txt").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_sentences(tmp_path / "s.txt", Vocabulary.build([["a"]]))


def test_make_batch_appends_eos_and_pads():
    vocab = Vocabulary.build([["a", "b", "c"]])
    corpus = SentenceCorpus([[4, 5, 6], [6]], vocab)
    tokens, lengths = corpus.make_batch(np.array([1, 0]))
    assert tokens.dtype == torch.int64 and lengths.dtype == torch.int64
    assert tokens.tolist() == [[6, 2, 0, 0], [4, 5, 6, 2]]  # no <bos>; <eos> then <pad>
    assert lengths.tolist() == [2, 4]
    (args, n), *rest = list(corpus.eval_batches(5))
    assert not rest and n.tolist() == [4, 2]  # in corpus order, <eos> counted
    (args, n), *rest = list(corpus.eval_batches(5, by_length=True))
    assert n.tolist() == [2, 4] and args[0].tolist() == [[6, 2, 0, 0], [4, 5, 6, 2]]
    with pytest.raises(ValueError, match="may not contain"):
        SentenceCorpus([[4, 2]], vocab)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_sentences(SentenceSpec(train=600, valid=20, test=20, seed=3))


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "sorted"])
def test_bucketing_keeps_padding_small_and_loses_nothing(synthetic, shuffle):
    corpus = synthetic.train
    g = torch.Generator().manual_seed(0)
    batches = corpus.batch_indices(16, shuffle=shuffle, generator=g, bucket_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(corpus)))
    assert all(len(b) <= 16 for b in batches)
    random = corpus.batch_indices(16, shuffle=True, generator=g, bucket_batches=1)  # no buckets
    assert corpus.padding(batches) < 0.05 < 0.2 < corpus.padding(random)


def test_shuffled_batches_depend_on_the_generator(synthetic):
    def order(seed):
        g = torch.Generator().manual_seed(seed)
        return np.concatenate(synthetic.train.batch_indices(16, True, g)).tolist()

    assert order(1) == order(1) != order(2)


def test_synthetic_corpus_is_deterministic_and_labelled(synthetic):
    again = make_synthetic_sentences(SentenceSpec(train=600, valid=20, test=20, seed=3))
    assert torch.equal(again.train.ids, synthetic.train.ids) and again.vocab == synthetic.vocab
    other = make_synthetic_sentences(SentenceSpec(train=600, valid=20, test=20, seed=4))
    assert not torch.equal(other.train.ids[:50], synthetic.train.ids[:50])
    assert len(synthetic.topics["train"]) == len(synthetic.train) == 600
    assert synthetic.test.report.unknown_tokens == 0
    # the topic shows in the words: with purity 0.9 of 4 topics, 92.5% of content words match
    hits = total = 0
    for i, k in enumerate(synthetic.topics["train"]):
        for w in synthetic.train.text(i).split():
            if "_" in w:
                hits += int(re.sub(r"\D", "", w.split("_")[0])) == k
                total += 1
    assert 0.9 < hits / total < 0.95


@pytest.mark.parametrize("prefix", ["ptb.", ""], ids=["ptb-names", "plain-names"])
def test_split_directory_builds_vocabulary_from_train_only(tmp_path, prefix):
    (tmp_path / f"{prefix}train.txt").write_text("a b\nb c\n")
    (tmp_path / f"{prefix}valid.txt").write_text("a valid_only\n")
    (tmp_path / f"{prefix}test.txt").write_text("test_only c\n")
    s = load_sentence_splits(tmp_path, max_vocab=10)
    assert s.vocab.words[4:] == ["b", "a", "c"]
    assert s.valid.report.unknown_tokens == 1 and s.test.report.unknown_tokens == 1
    assert len(s.train) == 2 and s.source["kind"] == "sentences"


def test_split_directory_errors(tmp_path):
    with pytest.raises(DataError, match="corpus directory not found"):
        load_sentence_splits(tmp_path / "nope")
    with pytest.raises(DataError, match="expected one pair of train.txt and test.txt"):
        load_sentence_splits(tmp_path)


def test_control_characters_in_text_are_errors_naming_file_and_line(tmp_path):
    for split in ("train", "test"):
        (tmp_path / f"{split}.txt").write_text("the cat sat .\n")
    (tmp_path / "train.txt").write_text("the cat sat .\nthe d\x00og ran .\n")
    with pytest.raises(DataError, match=r"train.txt:2: control character '\\x00' at column 6"):
        load_sentence_splits(tmp_path)


@pytest.mark.parametrize("prefix", ["", "yahoo."], ids=["no-prefix", "prefix"])
@pytest.mark.parametrize("name", ["valid", "val", "dev"])
def test_the_validation_file_is_found_under_the_names_people_use(tmp_path, prefix, name):
    for split, text in (("train", "a b c .\n" * 5), ("test", "a b .\n"), (name, "b c .\n" * 2)):
        (tmp_path / f"{prefix}{split}.txt").write_text(text)
    data = load_sentence_splits(tmp_path)
    assert len(data.valid) == 2 and len(data.train) == 5


def test_without_a_validation_file_a_share_of_train_is_held_out_and_said(tmp_path, caplog):
    (tmp_path / "train.txt").write_text("".join(f"w{i} x .\n" for i in range(40)))
    (tmp_path / "test.txt").write_text("w1 x .\n")
    data = load_sentence_splits(tmp_path, valid_fraction=0.25, seed=3)
    assert (len(data.train), len(data.valid)) == (30, 10)
    assert "no valid.txt/val.txt/dev.txt; holding out 10 of the 40" in caplog.text
    again = load_sentence_splits(tmp_path, valid_fraction=0.25, seed=3)
    assert [again.valid.text(i) for i in range(10)] == [data.valid.text(i) for i in range(10)]
    assert load_sentence_splits(tmp_path, valid_fraction=0.0).valid is None


def test_a_corpus_own_unknown_marker_is_read_as_unk_and_counted(tmp_path, caplog):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("the _UNK sat .\nthe cat sat _UNK .\n")
    caplog.set_level(logging.WARNING)  # said by default
    data = load_sentence_splits(tmp_path, unk_tokens=["_UNK"])
    assert "_UNK" not in data.vocab
    assert data.test.text(1) == "the cat sat <unk> ."
    assert "read 2 occurrence(s) of _UNK as <unk>" in caplog.text
    assert data.source["unk_tokens"] == ["_UNK"]
    assert "_UNK" in load_sentence_splits(tmp_path).vocab  # without the option, a word
    load_sentence_splits(tmp_path, unk_tokens=["<UNK>"])  # a marker that never occurs
    assert "read 0 occurrence(s) of <UNK> as <unk>" in caplog.text


def test_long_training_sentences_are_cut_by_default_but_test_sentences_are_scored_whole(
    tmp_path, caplog
):
    long_line = " ".join(f"w{i % 7}" for i in range(250)) + "\n"
    (tmp_path / "train.txt").write_text("a b c\n" + long_line + "c a\n")
    (tmp_path / "valid.txt").write_text(long_line)
    (tmp_path / "test.txt").write_text("a b\n" + long_line)
    data = load_sentence_splits(tmp_path)
    assert DEFAULT_MAX_LENGTH == 200 and int(data.train.words.max()) == 200
    assert data.train.report.truncated_lines == [2] and data.train.report.truncated_words == 50
    assert "truncated 1 sentence(s)" in caplog.text
    assert list(data.test.words) == [2, 250] and not data.test.report.truncated_lines
    assert list(data.valid.words) == [250]
    forced = load_sentence_splits(tmp_path, eval_max_length=100)  # cut on request, and counted
    assert list(forced.test.words) == [2, 100] and forced.test.report.truncated_words == 150
    whole = load_sentence_splits(tmp_path, max_length=None)
    assert int(whole.train.words.max()) == 250


def test_held_out_sentences_are_scored_whole_and_are_the_seeded_share_of_the_sentences(tmp_path):
    lines = [f"w{i} x ." if i % 5 else "" for i in range(60)]  # empty lines are not sentences
    lines[7] = " ".join(["y"] * 300)
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.txt").write_text("w1 x .\n")
    data = load_sentence_splits(tmp_path, valid_fraction=0.25, seed=3, max_length=10)
    sentences = [line for line in lines if line]
    perm = np.random.default_rng(3).permutation(len(sentences))
    held = sorted(perm[: round(0.25 * len(sentences))])
    assert [data.valid.text(i) for i in range(len(data.valid))] == [sentences[i] for i in held]
    assert len(data.train) + len(data.valid) == len(sentences)
    assert int(data.train.words.max()) <= 10
    if 1 in held:  # the long line, when held out, is scored whole
        assert int(data.valid.words.max()) == 300


def test_sorted_evaluation_batches_give_a_long_sentence_a_batch_of_its_own():
    vocab = Vocabulary.build([["a", "b"]])
    sentences = [[4, 5]] * 40 + [[4] * 1000] + [[5] * 3] * 10
    corpus = SentenceCorpus([torch.tensor(s) for s in sentences], vocab)
    batches = list(corpus.eval_batches(32, by_length=True))
    sizes = [len(n) for _, n in batches]
    assert sum(sizes) == len(sentences) and sizes[-1] == 1 and int(batches[-1][1][0]) == 1001
    assert all(tokens.numel() <= 32 * EVAL_POSITIONS for (tokens, _), _ in batches)
    assert sizes[0] == 32  # short sentences still come 32 at a time
