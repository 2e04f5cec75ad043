"""A run directory is owned: no run is overwritten silently, and --resume resumes exactly the
run it names."""

import pytest

from ppl_vae.data import SyntheticSpec, load_documents
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.runs import preset, read_metrics, run_training
from ppl_vae.training import BEST, CHECKPOINT
from ppl_vae.training.checkpoint import load_checkpoint, save_checkpoint
from ppl_vae.training.files import RunError

SMALL = {"latent_dim": 4, "guide_kwargs": {"hidden_sizes": [16]}}


@pytest.fixture
def docs():
    spec = SyntheticSpec(3, 10, 30, mean_length=30.0, train_docs=120, valid_docs=20, test_docs=20)
    return load_documents({"kind": "synthetic", "spec": spec.to_dict()})


def losses(run_dir):
    return [(r["epoch"], r["train_loss"], r["valid_elbo"]) for r in read_metrics(run_dir)]


def test_an_existing_run_is_refused_unless_resumed_or_overwritten(tmp_path, docs):
    run_training(preset("nvdm", epochs=1, **SMALL), tmp_path, progress=False, data=docs)
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(RunError, match="already holds a run; continue it with --resume"):
        run_training(preset("nvdm", epochs=1, **SMALL), tmp_path, progress=False, data=docs)
    assert (tmp_path / "metrics.jsonl").read_text() == before
    run_training(preset("nvdm", epochs=2, **SMALL), tmp_path, progress=False, data=docs,
                 overwrite=True)  # fmt: skip
    assert [e for e, *_ in losses(tmp_path)] == [1, 2]


def test_resume_refuses_another_models_run_and_another_corpus(tmp_path, docs):
    run_training(preset("nvdm", epochs=1, **SMALL), tmp_path, progress=False, data=docs)
    with pytest.raises(RunError, match="is a nvdm run with the diagonal guide; --resume asked"):
        run_training(preset("sentence-vae"), tmp_path, resume=True, progress=False)
    with pytest.raises(RunError, match="asked for guide 'iaf'"):
        run_training(preset("nvdm", "iaf"), tmp_path, resume=True, progress=False,
                     expect={"model": "nvdm", "guide": "iaf"})  # fmt: skip
    with pytest.raises(RunError, match="has another vocabulary"):
        run_training(preset("nvdm"), tmp_path, resume=True, progress=False,
                     data=load_documents())  # fmt: skip
    assert load_checkpoint(tmp_path / BEST)["config"]["model"] == "nvdm"  # untouched
    with pytest.raises(RunError):
        run_training(preset("sentence-vae"), tmp_path, resume=True, progress=False,
                     data=load_sentence_data())  # fmt: skip


def test_resume_keeps_the_budget_and_is_exact_from_an_epoch_end(tmp_path, docs):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run_training(preset("nvdm", epochs=3, **SMALL), whole, progress=False, data=docs)
    run_training(preset("nvdm", epochs=1, **SMALL), parts, progress=False, data=docs)
    run_training(preset("nvdm", **SMALL), parts, resume=True, progress=False)
    assert len(read_metrics(parts)) == 1  # the saved budget of 1 epoch, not the preset's 40
    run_training(preset("nvdm", **SMALL), parts, resume=True, progress=False,
                 overrides={"epochs": 3})  # fmt: skip
    assert losses(parts) == losses(whole)  # bit-identical, validation included


def test_a_new_learning_rate_applies_from_the_first_resumed_step(tmp_path, docs):
    run_training(preset("nvdm", epochs=1, **SMALL), tmp_path, progress=False, data=docs)
    lowered, same = tmp_path / "lowered", tmp_path / "same"
    for target, lr in ((lowered, 1e-9), (same, None)):
        target.mkdir()
        for name in ("checkpoint.pt", "best.pt", "metrics.jsonl"):
            (target / name).write_bytes((tmp_path / name).read_bytes())
        overrides = {"epochs": 2, **({"lr": lr} if lr else {})}
        run_training(preset("nvdm", **SMALL), target, resume=True, progress=False,
                     overrides=overrides)  # fmt: skip
    first = load_checkpoint(tmp_path / CHECKPOINT)["model"]
    for name, weight in load_checkpoint(lowered / CHECKPOINT)["model"].items():
        assert (weight - first[name]).abs().max() < 1e-6  # lr 1e-9 from step one: no move
    assert read_metrics(lowered)[-1]["lr"] == pytest.approx(1e-9 * 0.99)
    moved = load_checkpoint(same / CHECKPOINT)["model"]
    assert any((moved[k] - first[k]).abs().max() > 1e-4 for k in first)


def test_a_kill_between_the_two_checkpoint_writes_leaves_them_agreeing(tmp_path, docs, monkeypatch):
    """best.pt is written first: a kill before checkpoint.pt leaves checkpoint.pt at the epoch
    before, whose resume redoes the epoch; never a checkpoint naming a best that best.pt lacks."""
    import ppl_vae.training.loop as loop

    run_training(preset("nvdm", epochs=1, **SMALL), tmp_path, progress=False, data=docs)
    writes = []

    def killed_after_best(path, payload):
        writes.append(path.name)
        save_checkpoint(path, payload)
        if path.name == BEST:
            raise KeyboardInterrupt  # the kill, right after best.pt

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_best)
    with pytest.raises(KeyboardInterrupt):
        run_training(preset("nvdm", **SMALL), tmp_path, resume=True, progress=False,
                     overrides={"epochs": 2})  # fmt: skip
    assert writes == [BEST]
    latest = load_checkpoint(tmp_path / CHECKPOINT)["state"]
    best = load_checkpoint(tmp_path / BEST)["state"]
    assert latest["epoch"] == 1 and best["epoch"] == 2 and latest["best_epoch"] <= best["epoch"]
    monkeypatch.undo()
    run_training(preset("nvdm", **SMALL), tmp_path, resume=True, progress=False,
                 overrides={"epochs": 2})  # fmt: skip
    assert load_checkpoint(tmp_path / CHECKPOINT)["state"]["best_epoch"] == 2
