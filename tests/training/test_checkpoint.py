import errno

import pytest
import torch

from ppl_vae.training import checkpoint as ckpt
from ppl_vae.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def payload():
    return {
        "config": {"lr": 1e-3},
        "model": {"w": torch.ones(3)},
        "guide": {},
        "state": {"epoch": 2},
    }


def test_round_trip_restores_tensors_and_plain_data(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {**payload(), "rng": ckpt.rng_state()})
    got = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(got["model"]["w"], torch.ones(3)) and got["state"] == {"epoch": 2}
    ckpt.set_rng_state(got["rng"])
    a = torch.rand(3)
    ckpt.set_rng_state(got["rng"])
    assert torch.equal(a, torch.rand(3))


def test_truncated_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, payload())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"{path}: not a readable checkpoint"):
        load_checkpoint(path)


def test_corrupted_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


class Payload:
    """Any class: a pickle of it could run code when loaded."""


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({**payload(), "format": ckpt.FORMAT, "version": ckpt.VERSION, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"a": 1}, "not a ppl-vae checkpoint"),
        ({"format": ckpt.FORMAT, "version": 99}, "version 99 is not supported"),
        (
            {"format": ckpt.FORMAT, "version": ckpt.VERSION, "config": {}},
            "lacks model, guide, state",
        ),
    ],
    ids=["foreign", "future-version", "missing-entries"],
)
def test_wrong_contents_are_rejected(tmp_path, content, message):
    torch.save(content, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "c.pt")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, payload())

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="c.pt: cannot write the checkpoint: No space left"):
        save_checkpoint(path, {**payload(), "state": {"epoch": 3}})
    monkeypatch.undo()
    assert load_checkpoint(path)["state"] == {"epoch": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_torchs_own_write_error_is_one_line_too(tmp_path, monkeypatch):
    def broken_save(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64\nmore")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(CheckpointError, match=r"cannot write the checkpoint: \[enforce") as e:
        save_checkpoint(tmp_path / "c.pt", payload())
    assert "\n" not in str(e.value)


def test_a_pickle_is_refused_without_advice_to_unpickle_it(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ppl-vae-checkpoint", "x": ValueError("a pickled object")}, path)
    with pytest.raises(CheckpointError, match="was not unpickled") as e:
        load_checkpoint(path)
    assert "weights_only" not in str(e.value)
