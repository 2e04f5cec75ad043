"""``ppl-vae train rsm``: CD options, evaluation by exact log Z and AIS, topics, bad input, and
checkpoints that resume exactly (persistent chains included)."""

import json

import torch

from ppl_vae.cli import main
from ppl_vae.training.checkpoint import load_checkpoint

QUICK = ["--no-progress", "--epochs", "2", "--eval-samples", "0"]


def test_train_rsm_with_cd_k_and_persistent_chains_then_evaluate_and_topics(tmp_path, capsys):
    out = str(tmp_path / "rsm")
    argv = ["train", "rsm", "--out", out, "--hidden", "6", "--cd-steps", "2", "--persistent"]
    assert main([*argv, *QUICK]) == 0
    config = json.loads((tmp_path / "rsm" / "config.json").read_text())
    assert config["latent_dim"] == 6 and config["cd_steps"] == 2 and config["objective"] == "cd"
    assert config["model_kwargs"] == {"persistent_chains": 64}
    metrics = [json.loads(line) for line in (tmp_path / "rsm" / "metrics.jsonl").open()]
    assert {"valid_reconstruction", "valid_free_energy"} <= set(metrics[-1])
    assert "train_kl" not in metrics[-1]
    capsys.readouterr()
    assert main(["evaluate", out, "--json", "--partition", "exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["estimator"] == "exact" and "ppl_doc_exact" in exact
    assert main(["evaluate", out, "--json", "--partition", "ais", "--ais-runs", "20",
                 "--ais-steps", "100"]) == 0  # fmt: skip
    ais = json.loads(capsys.readouterr().out)
    assert ais["estimator"] == "ais" and ais["ais_runs"] == 20 and "log_z_spread_mean" in ais
    assert abs(ais["ppl_doc_ais"] / exact["ppl_doc_exact"] - 1) < 0.01
    assert main(["evaluate", out]) == 0
    text = capsys.readouterr().out
    assert "exact log Z (enumerated)" in text and "KL collapse" not in text
    assert main(["topics", out, "--k", "4"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 6


def test_sgd_with_momentum_and_weight_decay(tmp_path):
    out = tmp_path / "sgd"
    argv = ["train", "rsm", "--out", str(out), "--hidden", "4", "--optimizer", "sgd",
            "--momentum", "0.5", "--weight-decay", "0.001", "--lr", "1e-4", *QUICK]  # fmt: skip
    assert main(argv) == 0
    optim = load_checkpoint(out / "checkpoint.pt")["optim"]
    assert optim["param_groups"][0]["momentum"] == 0.5
    assert optim["param_groups"][0]["weight_decay"] == 0.001


def test_rsm_flags_are_checked(tmp_path, capsys):
    base = ["train", "rsm", "--out", str(tmp_path / "r"), *QUICK]
    assert main([*base, "--hidden", "4,4"]) == 2
    assert "one number of hidden units" in capsys.readouterr().err
    assert main([*base, "--objective", "meanfield"]) == 2
    assert "trains only with cd" in capsys.readouterr().err
    assert main([*base, "--anneal", "linear"]) == 2
    assert "cannot be combined with KL annealing" in capsys.readouterr().err


def test_bad_data_is_one_line(tmp_path, capsys):
    (tmp_path / "train.feat").write_text("1 1:1\n1 9:1\n")
    (tmp_path / "test.feat").write_text("1 1:1\n")
    (tmp_path / "vocab.new").write_text("a 1\nb 1\n")
    assert main(["train", "rsm", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "train.feat:2: word id 9 out of range 1..2" in err and "Traceback" not in err


def test_resume_is_exact_persistent_chains_included(tmp_path):
    flags = ["--hidden", "5", "--persistent", "--no-progress", "--eval-samples", "0"]
    assert main(["train", "rsm", "--out", str(tmp_path / "full"), "--epochs", "3", *flags]) == 0
    split = str(tmp_path / "split")
    assert main(["train", "rsm", "--out", split, "--epochs", "2", *flags]) == 0
    assert main(["train", "rsm", "--out", split, "--resume", "--epochs", "3", *flags]) == 0
    full = load_checkpoint(tmp_path / "full" / "checkpoint.pt")["model"]
    resumed = load_checkpoint(tmp_path / "split" / "checkpoint.pt")["model"]
    assert full.keys() == resumed.keys() and "chains" in full
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
