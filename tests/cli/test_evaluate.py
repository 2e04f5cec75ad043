"""``ppl-vae evaluate``."""

import json

from ppl_vae.cli import main
from ppl_vae.data import save_feat, save_vocab
from ppl_vae.runs import read_metrics


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
    assert main(["topics", str(trained_run), "--k", "4", "--json"]) == 0
    topics = json.loads(capsys.readouterr().out)
    assert len(topics) == 8 and all(len(words) == 4 for words in topics.values())


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
