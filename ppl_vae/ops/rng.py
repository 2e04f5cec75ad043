"""Random streams that a library call owns, leaving the caller's RNG as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def own_rng(seed: int) -> Iterator[None]:
    """Run the block on torch's global RNG seeded with ``seed`` (CUDA's too, when present), then
    restore the caller's state: what the block draws is fixed by ``seed``, and the caller's
    stream continues as if the block had not run. Python's and NumPy's RNGs are not touched."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
