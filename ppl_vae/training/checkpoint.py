"""Checkpoints: tensors and plain metadata only, written atomically, read with
``weights_only=True`` (a pickle could run code on load)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

FORMAT = "ppl-vae-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "config", "model", "guide", "state")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, truncated or of another format."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same directory,
    flushed to disk, then renamed over the target. A crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, (OSError, RuntimeError)):  # a full disk, a read-only directory, ...
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
            raise CheckpointError(f"{path}: cannot write the checkpoint: {reason}") from e
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    :raises CheckpointError: naming the file, if it is missing, unreadable (corrupt or
        truncated), holds anything but tensors and plain data, or lacks required entries.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for corrupt zips and pickles
        if "Weights only load failed" in str(e):  # never pass on torch's advice to unpickle
            detail = "it holds more than tensors and plain data, and was not unpickled"
        else:
            detail = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt or truncated?): {detail}"
        ) from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ppl-vae checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {payload.get('version')} is not supported (want {VERSION})"
        )
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return payload


def rng_state() -> dict[str, Any]:
    """The torch, CUDA, Python and NumPy random states as tensors and plain data."""
    import random

    import numpy as np

    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype("int64")), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], torch_only: bool = False) -> None:
    """Restore what :func:`rng_state` saved; with ``torch_only``, torch's and CUDA's states
    only (the training loop draws from nothing else, and leaves the caller's Python and NumPy
    streams alone)."""
    import random

    import numpy as np

    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if torch_only:
        return
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), *rest))
