"""``ppl-vae evaluate``."""

import json

import pytest

from ppl_vae.cli import main
from ppl_vae.data import save_feat, save_vocab
from ppl_vae.runs import read_metrics
from tests.cli.flags import TINY_SENTENCES


def test_train_on_the_embedded_corpus_reports_metrics_recovery_and_topics(trained_run, capsys):
    main(["evaluate", str(trained_run), "--samples", "3", "--no-progress"])
    assert "perplexity per document, ELBO bound" in capsys.readouterr().out
    assert {
        "checkpoint.pt",
        "best.pt",
        "metrics.jsonl",
        "curves.png",
        "config.json",
        "vocab.txt",
    } <= {p.name for p in trained_run.iterdir()}
    assert len(read_metrics(trained_run)) == 2


def test_evaluate_json_has_the_documented_keys(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--samples", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "ppl_doc_elbo",
        "ppl_doc_iw",
        "ppl_corpus_elbo",
        "ppl_corpus_iw",
        "kl",
        "active_units",
    ):
        assert isinstance(result[key], (int, float))
    assert result["split"] == "test" and result["num_samples"] == 4
    assert result["ppl_doc_iw"] <= result["ppl_doc_elbo"]


def test_topics(trained_run, capsys):
    assert main(["topics", str(trained_run), "--k", "4", "--json", "--threads", "1"]) == 0
    topics = json.loads(capsys.readouterr().out)["topics"]
    assert len(topics) == 8 and all(len(words) == 4 for words in topics.values())


def test_topics_with_poles_rotation_and_coherence(trained_run, capsys):
    argv = ["topics", str(trained_run), "--poles", "--rotate", "--coherence", "--top", "5"]
    assert main([*argv, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert list(figures["topics"])[:2] == ["z[0]+", "z[0]-"] and len(figures["npmi"]) == 16
    assert figures["rotation"] == "varimax" and figures["top"] == 5
    assert figures["window"] == "document" and figures["reference"].endswith("(train)")
    mean = sum(figures["npmi"].values()) / 16
    assert figures["mean_npmi"] == pytest.approx(mean)
    for key in ("mean_npmi_unrotated", "diversity", "diversity_unrotated", "documents"):
        assert key in figures
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mean NPMI" in text and "without rotation" in text
    assert "settings: NPMI of the top 5 words, document co-occurrence in" in text


def test_vocabulary_mismatch_is_a_clear_error(trained_run, tmp_path, tiny_corpus, capsys):
    save_feat(tiny_corpus.train, tmp_path / "train.feat")
    save_feat(tiny_corpus.test, tmp_path / "test.feat")
    save_vocab(tiny_corpus.vocab, tmp_path / "vocab.new")
    assert main(["evaluate", str(trained_run), "--data", str(tmp_path), "--samples", "2"]) == 2
    err = capsys.readouterr().err
    assert "vocabulary does not match checkpoint" in err and "60 words" in err


def test_corrupt_checkpoint_is_reported(trained_run, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "best.pt").write_bytes((trained_run / "best.pt").read_bytes()[:1000])
    assert main(["evaluate", str(bad)]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_evaluate_reads_the_chosen_checkpoint(trained_run, capsys):
    results = {}
    for which in ("best", "last"):
        assert (
            main(["evaluate", str(trained_run), "--samples", "2", "--json", "--checkpoint", which])
            == 0
        )
        results[which] = json.loads(capsys.readouterr().out)["checkpoint"]
    assert results["best"].endswith("best.pt") and results["last"].endswith("checkpoint.pt")


@pytest.mark.parametrize(
    "break_it, argv, message",
    [
        (None, ["evaluate", "{missing}"], "no such run directory"),
        ("config", ["evaluate", "{run}"], "config.json: not valid JSON (line 1)"),
        (None, ["topics", "{sentences}"], "is a sentence-vae run; topics are the word directions"),
    ],
    ids=["missing-run", "config-not-json", "topics-of-sentences"],
)
def test_faults_are_one_line(trained_run, tmp_path, capsys, break_it, argv, message):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.pt", "checkpoint.pt", "config.json"):
        (run / name).write_bytes((trained_run / name).read_bytes())
    if break_it == "config":
        (run / "config.json").write_text("{not json")
    sentences = tmp_path / "sentences"
    if "{sentences}" in argv:
        assert main(["train", "sentence-vae", "--out", str(sentences), *TINY_SENTENCES]) == 0
        capsys.readouterr()
    places = {"{missing}": str(tmp_path / "missing"), "{run}": str(run),
              "{sentences}": str(sentences)}  # fmt: skip
    assert main([places.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_missing_split_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("train", "test"):  # no valid.txt
        (corpus / f"{split}.txt").write_text("the cat sat .\na dog ran .\nthe dog sat .\n")
    run = tmp_path / "run"
    argv = ["train", "rnnlm", "--data", str(corpus), "--out", str(run), "--valid-fraction", "0"]
    argv += TINY_SENTENCES
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "valid", "--samples", "1"]) == 2
    assert "has no 'valid' split" in capsys.readouterr().err


def test_evaluate_data_reads_the_text_with_the_runs_settings(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("train", "valid", "test"):
        (corpus / f"{split}.txt").write_text("the cat sat .\na dog ran far .\nthe dog sat .\n")
    run = tmp_path / "run"
    argv = ["train", "rnnlm", "--data", str(corpus), "--out", str(run), "--max-vocab", "7"]
    assert main([*argv, *TINY_SENTENCES]) == 0
    capsys.readouterr()
    moved = tmp_path / "moved"
    corpus.rename(moved)  # the run's own path no longer exists; --data names the new one
    assert main(["evaluate", str(run), "--data", str(moved), "--samples", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 3


def test_an_edited_config_json_is_named_not_blamed_on_the_checkpoint(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.pt", "checkpoint.pt"):
        (run / name).write_bytes((trained_run / name).read_bytes())
    (run / "config.json").write_text(json.dumps({"model": "mixture"}))
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "config.json says this is a mixture run" in err and "was edited" in err


def test_a_foreign_checkpoint_is_named(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes((trained_run / "best.pt").read_bytes())
    config = json.loads((trained_run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "model": "sentence-vae"}))
    assert main(["evaluate", str(run)]) == 2
    assert "says model 'sentence-vae', but" in capsys.readouterr().err


def test_a_forced_truncation_is_said_in_the_text_and_the_json(tmp_path, capsys):
    run = tmp_path / "sentences"
    assert main(["train", "sentence-vae", "--out", str(run), *TINY_SENTENCES]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--samples", "2", "--json", "--no-progress"]) == 0
    assert "truncated" not in json.loads(capsys.readouterr().out)  # whole sentences by default
    assert main(["evaluate", str(run), "--samples", "2", "--json", "--max-length", "3"]) == 0
    cut = json.loads(capsys.readouterr().out)
    assert cut["truncated"]["sentences"] > 0 and cut["truncated"]["words_dropped"] > 0
    assert main(["evaluate", str(run), "--samples", "2", "--max-length", "3", "--no-progress"]) == 0
    assert "do not compare with published ones" in capsys.readouterr().out
