"""This process's place among the ranks of a ``torch.distributed`` job, the few collectives the
library uses, and :func:`map_batches`: work over a list of batches, shared out over the ranks,
with results that do not depend on how many ranks there are.

Without an initialized process group every function here is the one-process identity, and
``torch.distributed`` is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ppl_vae.ops.rng import own_rng


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """This process's rank and the world size (0 and 1 without ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def all_sum(values: list[float], w: World | None = None) -> list[float]:
    """Elementwise sums of ``values`` over the ranks (the values themselves in one process)."""
    w = w or world()
    if not w.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def broadcast(obj, w: World | None = None):
    """Rank 0's ``obj`` on every rank."""
    w = w or world()
    if not w.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(w: World | None = None) -> None:
    """Wait for every rank (nothing in one process)."""
    w = w or world()
    if w.distributed:
        dist.barrier()


def leave() -> None:
    """Leave the process group, if this process joined one: every rank at a barrier first,
    so that none tears gloo down while a peer still talks to it (which can abort the peer,
    or hang its exit past the launcher's grace period)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


#: mixes a batch's index into the evaluation seed (an odd 63-bit constant)
_BATCH_STRIDE = 0x1E3779B97F4A7C15


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch ``index`` of a computation seeded with ``seed``."""
    return (seed + index * _BATCH_STRIDE) % 2**63


def map_batches(
    fn: Callable[[Any], Any],
    batches: Iterable,
    seed: int | None = None,
    wrap: Callable[[Sequence], Iterable] = iter,
) -> list:
    """``[fn(b) for b in batches]``, shared out over the ranks of a distributed job.

    Rank ``r`` of ``W`` computes batches ``r, r + W, ...``; the results are gathered on every
    rank and returned in the batches' order. With a ``seed``, batch ``i`` draws from torch's RNG
    seeded with :func:`batch_seed` ``(seed, i)`` (on a fork: the caller's stream is left as it
    was), so the results are the same at any world size, and the same as in one process.
    Without one, each rank draws from its own stream. ``wrap`` wraps this rank's share (e.g. a
    progress bar). ``fn``'s results must be picklable to cross ranks.
    """
    w = world()
    batches = list(batches)
    mine = [(i, b) for i, b in enumerate(batches) if i % w.size == w.rank]
    done = []
    for i, b in wrap(mine):
        with own_rng(batch_seed(seed, i)) if seed is not None else nullcontext():
            done.append((i, fn(b)))
    if not w.distributed:
        return [r for _, r in done]
    shares: list = [None] * w.size
    dist.all_gather_object(shares, done)
    return [r for _, r in sorted((p for share in shares for p in share), key=lambda p: p[0])]
