"""``ppl-vae train``."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from ppl_vae.cli import main
from ppl_vae.config import TrainConfig
from ppl_vae.runs import read_metrics, run_training
from ppl_vae.training.checkpoint import load_checkpoint
from tests.cli.flags import SMALL, TINY_SENTENCES


def test_train_prints_tables(tmp_path, capsys):
    main(["train", "nvdm", "--out", str(tmp_path), "--epochs", "1", *SMALL])
    out = capsys.readouterr().out
    for text in (
        "completed after 1 epochs",
        "perplexity over corpus, IW (5 samples)",
        "recovery of the generating model",
        "topics (top words",
        "z[",
    ):
        assert text in out


def test_resume_extends_a_run(tmp_path):
    main(["train", "nvdm", "--out", str(tmp_path), "--epochs", "1", *SMALL, "--eval-samples", "0"])
    main(
        [
            "train",
            "nvdm",
            "--out",
            str(tmp_path),
            "--epochs",
            "2",
            "--resume",
            "--no-progress",
            "--eval-samples",
            "0",
        ]
    )
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2]


def test_resume_may_change_the_learning_rate_schedule_and_patience(tmp_path):
    main(["train", "nvdm", "--out", str(tmp_path), "--epochs", "1", *SMALL, "--eval-samples", "0"])
    resumed = ["train", "nvdm", "--out", str(tmp_path), "--epochs", "2", "--resume"]
    flags = ["--lr", "3e-4", "--lr-drop", "0.25", "--patience", "7"]
    main([*resumed, *flags, "--no-progress", "--eval-samples", "0"])
    config = load_checkpoint(tmp_path / "checkpoint.pt")["config"]
    assert (config["lr"], config["lr_drop"], config["patience"]) == (3e-4, 0.25, 7)
    assert read_metrics(tmp_path)[-1]["lr"] == pytest.approx(3e-4 * config["lr_decay"])
    with pytest.raises(
        ValueError, match="can change only epochs, lr, lr_drop, patience, not batch_size"
    ):
        run_training(TrainConfig(epochs=3), tmp_path, resume=True, overrides={"batch_size": 8})


def test_bad_data_is_reported_without_a_traceback(tmp_path, capsys):
    (tmp_path / "train.feat").write_text("1 1:1\n1 9:1\n")
    (tmp_path / "test.feat").write_text("1 1:1\n")
    (tmp_path / "vocab.new").write_text("a 1\nb 1\n")
    assert main(["train", "nvdm", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "train.feat:2: word id 9 out of range 1..2" in capsys.readouterr().err


def test_sigterm_leaves_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ppl_vae",
            "train",
            "nvdm",
            "--out",
            str(out),
            "--epochs",
            "500",
            "--latent-dim",
            "4",
            "--hidden",
            "16",
            "--no-progress",
            "--eval-samples",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.time() + 120
    while not read_metrics(out) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "checkpoint saved" in stdout and "Traceback" not in stderr
    assert (
        main(
            [
                "train",
                "nvdm",
                "--out",
                str(out),
                "--resume",
                "--epochs",
                str(len(read_metrics(out)) + 1),
                "--no-progress",
                "--eval-samples",
                "0",
            ]
        )
        == 0
    )


@pytest.mark.parametrize("algorithm", ["em", "svi"])
def test_mixture_train_evaluate_and_topics(tmp_path, capsys, algorithm):
    out = str(tmp_path / algorithm)
    assert (
        main(
            [
                "train",
                "mixture",
                "--algorithm",
                algorithm,
                "--k",
                "4",
                "--out",
                out,
                "--epochs",
                "2",
                "--restarts",
                "1",
                "--no-progress",
                "--topics",
                "2",
            ]
        )
        == 0
    )
    assert "top words of each class" in capsys.readouterr().out
    assert main(["evaluate", out, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ppl_doc_elbo"] == result["ppl_doc_iw"] and result["exact"] is True
    for key in ("ppl_corpus_elbo", "ppl_corpus_iw", "kl", "active_units"):
        assert key in result
    assert main(["topics", out, "--k", "3", "--json", "--coherence"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["topics"]) == 4 and len(figures["npmi"]) == 4
    assert -1 <= figures["mean_npmi"] <= 1
    assert main(["topics", out, "--rotate"]) == 2  # a mixture's classes are not directions
    assert "not directions of an isotropic Gaussian" in capsys.readouterr().err


@pytest.mark.parametrize("objective", ["nvil", "wake-sleep", "rws"])
def test_sbn_trains_with_each_discrete_objective(tmp_path, capsys, objective):
    assert (
        main(
            [
                "train",
                "sbn",
                "--objective",
                objective,
                "--out",
                str(tmp_path),
                "--epochs",
                "1",
                *SMALL,
            ]
        )
        == 0
    )
    assert "perplexity per document, IW" in capsys.readouterr().out


def test_objectives_without_a_kl_term_refuse_annealing(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "nvdm",
                "--objective",
                "wake-sleep",
                "--anneal",
                "sigmoid",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "cannot be combined with KL annealing" in capsys.readouterr().err


def test_guide_must_fit_the_model(tmp_path, capsys):
    assert main(["train", "nvdm", "--guide", "bernoulli", "--out", str(tmp_path)]) == 2
    assert "does not fit model 'nvdm'" in capsys.readouterr().err


def test_sentence_vae_trains_and_reports_both_perplexity_conventions(tmp_path, capsys):
    out = str(tmp_path / "svae")
    assert (
        main(
            [
                "train",
                "sentence-vae",
                "--out",
                out,
                "--anneal",
                "sigmoid",
                "--anneal-epochs",
                "1",
                "--word-dropout",
                "0.25",
                *TINY_SENTENCES,
            ]
        )
        == 0
    )
    assert "valid_mi" in read_metrics(out)[0]
    capsys.readouterr()
    assert main(["evaluate", out, "--samples", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in (
        "nll_elbo",
        "nll_iw",
        "kl",
        "active_units",
        "mi",
        "ppl_iw_with_eos",
        "ppl_iw_without_eos",
        "ppl_elbo_with_eos",
        "ppl_elbo_without_eos",
    ):
        assert isinstance(r[key], (int, float)), key
    assert r["nll_iw"] <= r["nll_elbo"] + 1e-6
    assert r["ppl_iw_without_eos"] > r["ppl_iw_with_eos"]  # same NLL over fewer tokens


def test_rnnlm_on_a_text_directory_is_exact(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, n in (("train", 60), ("valid", 10), ("test", 10)):
        lines = [" the cat sat on the mat ", " a dog ran ", " the dog sat "] * n
        (corpus / f"ptb.{split}.txt").write_text("\n".join(lines[:n]) + "\n")
    out = str(tmp_path / "lm")
    assert main(["train", "rnnlm", "--data", str(corpus), "--out", out, *TINY_SENTENCES]) == 0
    capsys.readouterr()
    assert main(["evaluate", out, "--samples", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["kl"] == 0 and r["nll_elbo"] == pytest.approx(r["nll_iw"])
    assert r["documents"] == 10


def test_k_is_ldas_number_of_topics_and_no_other_models(tmp_path, capsys):
    out = str(tmp_path / "lda")
    assert main(["train", "lda", "--k", "5", "--out", out, "--epochs", "1", *SMALL[2:]]) == 0
    assert json.loads((tmp_path / "lda" / "config.json").read_text())["latent_dim"] == 5
    assert main(["train", "nvdm", "--k", "5", "--out", str(tmp_path / "n"), *SMALL]) == 2
    assert "nvdm takes --latent-dim" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["docnade", "lda"])
def test_docnade_and_lda_train_evaluate_and_show_topics(tmp_path, capsys, model):
    out = str(tmp_path / model)
    assert main(["train", model, "--out", out, "--epochs", "2", *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", out, "--samples", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    if model == "docnade":  # exact: one random order of each document's words, fixed by --seed
        assert r["exact"] and r["ppl_doc_exact"] == r["ppl_doc_iw"] == r["ppl_doc_elbo"]
        assert "ppl_corpus_exact" in r and r["kl"] == 0
    else:
        assert not r["exact"] and r["ppl_doc_iw"] <= r["ppl_doc_elbo"] and r["kl"] > 0
    assert main(["topics", out, "--k", "3", "--coherence", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["topics"]) == 8 and -1 <= figures["mean_npmi"] <= 1


@pytest.mark.parametrize(
    "guide, objective",
    [
        ("iaf", "free-bits"),
        ("full-covariance", "free-bits"),
        ("score-function", "meanfield"),
        ("score-function", "iwae"),
    ],
    ids=lambda v: v,
)
def test_train_refuses_a_guide_its_objective_cannot_train(tmp_path, capsys, guide, objective):
    argv = ["train", "nvdm", "--out", str(tmp_path), "--guide", guide, "--objective", objective]
    assert main(argv) == 2
    assert f"the {guide} guide cannot be trained with the {objective} objective" in (
        capsys.readouterr().err
    )


def test_a_flag_for_another_kind_of_model_is_refused_by_name(tmp_path, capsys):
    argv = ["train", "sentence-vae", "--out", str(tmp_path), "--hidden", "32"]
    assert main(argv) == 2
    assert "set by --hidden, which does not apply" in capsys.readouterr().err


def test_an_existing_run_is_neither_overwritten_nor_resumed_as_another_model(tmp_path, capsys):
    argv = ["train", "nvdm", "--out", str(tmp_path), "--epochs", "1", *SMALL, "--eval-samples", "0"]
    assert main(argv) == 0
    metrics = (tmp_path / "metrics.jsonl").read_text()
    assert main(argv) == 2
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err
    assert main(["train", "sentence-vae", "--out", str(tmp_path), "--resume"]) == 2
    assert "is a nvdm run with the diagonal guide" in capsys.readouterr().err
    assert (tmp_path / "metrics.jsonl").read_text() == metrics
    assert main([*argv, "--overwrite", "--seed", "1"]) == 0
    assert (tmp_path / "metrics.jsonl").read_text() != metrics


@pytest.mark.parametrize("model", ["nvdm", "sbn"])
def test_weights_gone_bad_stop_the_run_with_one_line(tmp_path, capsys, model):
    argv = ["train", model, "--out", str(tmp_path), "--lr", "1e30", "--epochs", "2", *SMALL]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(r"(loss|KL estimate) became (nan|inf) at epoch 1", err)  # named, not hidden
    assert (tmp_path / "checkpoint.pt").exists()  # the last good state


def test_unk_token_maps_a_corpus_own_marker(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("train", "valid", "test"):
        (corpus / f"{split}.txt").write_text("the _UNK sat .\na dog ran _UNK .\n")
    run = tmp_path / "run"
    argv = ["train", "rnnlm", "--data", str(corpus), "--out", str(run), "--unk-token", "_UNK"]
    assert main([*argv, *TINY_SENTENCES]) == 0
    assert "_UNK" not in (run / "vocab.txt").read_text().split()


def test_without_a_terminal_progress_is_a_line_per_epoch(tmp_path):
    argv = ["train", "nvdm", "--out", str(tmp_path), "--epochs", "2", "--latent-dim", "4"]
    done = subprocess.run([sys.executable, "-m", "ppl_vae", *argv, "--eval-samples", "0"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "\r" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "ppl_vae.training.loop: epoch {" in line]
    assert [json.loads(line.split("epoch ", 1)[1])["epoch"] for line in lines] == [1, 2]


def test_max_vocab_caps_a_text_document_corpus_and_is_refused_for_feat(tmp_path, capsys):
    text = tmp_path / "text"
    text.mkdir()
    words = [f"w{i}" for i in range(30)]
    (text / "train.txt").write_text("".join(" ".join(words[i:] + words[:3]) + "\n"
                                            for i in range(20)))  # fmt: skip
    (text / "test.txt").write_text("w1 w2 w3 w29\nw4 w5 w6\n")
    out = tmp_path / "run"
    argv = ["train", "nvdm", "--data", str(text), "--out", str(out), "--epochs", "1", *SMALL]
    assert main([*argv, "--max-vocab", "10"]) == 0
    assert len(load_checkpoint(out / "best.pt")["extra"]["vocab"]) == 10
    feat = tmp_path / "feat"
    feat.mkdir()
    (feat / "train.feat").write_text("1 1:1\n1 2:1\n")
    (feat / "test.feat").write_text("1 1:1\n")
    (feat / "vocab.new").write_text("a 1\nb 2\n")
    capsys.readouterr()
    argv = ["train", "nvdm", "--data", str(feat), "--out", str(tmp_path / "f"), *SMALL]
    assert main([*argv, "--max-vocab", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--max-vocab 10 applies to text corpora" in err


def test_a_sentence_run_ends_with_a_short_evaluation_and_says_how_to_get_more(tmp_path, capsys):
    flags = [f for f in TINY_SENTENCES if f not in ("--eval-samples", "0")]
    out = tmp_path / "sentences"
    assert main(["train", "sentence-vae", "--out", str(out), *flags]) == 0
    printed = capsys.readouterr().out
    assert "IW (10 samples)" in printed and f"ppl-vae evaluate {out} --samples 100" in printed
