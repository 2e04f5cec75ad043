"""``ppl-vae generate``."""

import json

from ppl_vae.cli import main
from tests.cli.flags import TINY_SENTENCES


def test_generation_commands(tmp_path, capsys):
    out = str(tmp_path / "svae")
    assert main(["train", "sentence-vae", "--out", out, *TINY_SENTENCES]) == 0
    capsys.readouterr()
    for argv in (
        ["sample", out, "--n", "3", "--max-length", "6"],
        ["sample", out, "--n", "2", "--beam", "2", "--max-length", "6"],
        ["sample", out, "--n", "2", "--temperature", "0.7"],
    ):
        assert main(argv) == 0
        assert len(capsys.readouterr().out.strip().splitlines()) == int(argv[3])
    assert main(["reconstruct", out, "zebra", "--samples", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("SAMP") == 2 and "MEAN" in captured.out
    assert "read as <unk>" in captured.err
    assert main(["interpolate", out, "a", "b", "--steps", "4"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    assert main(["reconstruct", out, "a b", "--samples", "1", "--beam", "2"]) == 0
    assert capsys.readouterr().out.count("SAMP") == 1
    assert main(["interpolate", out, "a", "b", "--steps", "3", "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_tied_embeddings_train_resume_and_generate(tmp_path, capsys):
    out = str(tmp_path / "tied")
    tied = ["--embedding-dim", "8", "--hidden-dim", "16", "--tie-embeddings"]  # projected
    quick = ["--no-progress", "--eval-samples", "0", "--epochs", "1"]
    assert main(["train", "sentence-vae", "--out", out, *tied, *quick]) == 0
    config = json.loads((tmp_path / "tied" / "config.json").read_text())
    assert config["model_kwargs"]["tie_embeddings"] is True
    resumed = ["train", "sentence-vae", "--out", out, "--resume", "--epochs", "2"]
    assert main([*resumed, "--no-progress", "--eval-samples", "0"]) == 0
    assert len((tmp_path / "tied" / "metrics.jsonl").read_text().splitlines()) >= 2
    capsys.readouterr()
    assert main(["sample", out, "--n", "2", "--max-length", "5"]) == 0
    assert capsys.readouterr().out.count("\n") == 2  # one line per sentence, empty or not


def test_generation_needs_a_sentence_vae(trained_run, capsys):
    assert main(["sample", str(trained_run)]) == 2
    assert "needs a sentence-vae or sentence-ae run" in capsys.readouterr().err


def test_every_generation_command_takes_threads_and_max_words(tmp_path, capsys):
    out = str(tmp_path / "svae")
    assert main(["train", "sentence-vae", "--out", out, *TINY_SENTENCES]) == 0
    capsys.readouterr()
    common = ["--threads", "1", "--max-words", "2"]
    for argv in (["sample", out, "--n", "3"], ["reconstruct", out, "the cat"],
                 ["interpolate", out, "the cat", "a dog"]):  # fmt: skip
        assert main([*argv, *common]) == 0
        lines = [ln.split(maxsplit=1)[-1] if ln[:5] in ("INPUT", "MEAN ", "SAMP ") else ln
                 for ln in capsys.readouterr().out.splitlines() if ln.strip()]  # fmt: skip
        decoded = lines if argv[0] != "reconstruct" else lines[1:]  # not the INPUT row
        assert decoded and all(len(s.split()) <= 2 for s in decoded)


def test_the_sentence_autoencoder_trains_evaluates_and_generates(tmp_path, capsys):
    out = str(tmp_path / "ae")
    assert main(["train", "sentence-ae", "--out", out, *TINY_SENTENCES]) == 0
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    assert (config["guide"], config["objective"]) == ("deterministic", "trace")
    metrics = [json.loads(line) for line in (tmp_path / "ae" / "metrics.jsonl").open()]
    assert "warning" not in metrics[-1] and "valid_mi" not in metrics[-1]
    capsys.readouterr()
    assert main(["evaluate", out, "--samples", "3"]) == 0
    text = capsys.readouterr().out
    assert "reconstruction NLL per sentence" in text and "not a likelihood bound" in text
    assert "KL collapse" not in text
    for argv in (["sample", out, "--n", "3"], ["sample", out, "--n", "3", "--codes"]):
        assert main(argv) == 0
        assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["reconstruct", out, "a b", "--samples", "2"]) == 0
    rows = capsys.readouterr().out.splitlines()
    mean = next(r for r in rows if r.startswith("MEAN"))[7:]
    assert [r[7:] for r in rows if r.startswith("SAMP")] == [mean, mean]  # no noise
    assert main(["interpolate", out, "a", "b", "--steps", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_the_sentence_autoencoder_resumes_exactly(tmp_path):
    import torch

    from ppl_vae.training.checkpoint import load_checkpoint

    flags = [f for f in TINY_SENTENCES if f not in ("--epochs", "1")]
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    assert main(["train", "sentence-ae", "--out", full, "--epochs", "2", *flags]) == 0
    assert main(["train", "sentence-ae", "--out", split, "--epochs", "1", *flags]) == 0
    assert main(["train", "sentence-ae", "--out", split, "--resume", "--epochs", "2", *flags]) == 0
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    for part in ("model", "guide"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
