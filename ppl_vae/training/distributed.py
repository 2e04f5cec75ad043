"""Training on several processes with ``torch.distributed``: launched by ``torchrun``, one
process per CPU worker or GPU, with the module-local ELBO under
:class:`~torch.nn.parallel.DistributedDataParallel`.

* **Launch.** ``torchrun --standalone --nproc-per-node N -m ppl_vae train MODEL ...`` sets
  ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`init_from_env` joins the process group
  (gloo on CPU, NCCL on CUDA with one GPU per process). Without ``WORLD_SIZE > 1`` nothing
  here runs and ``torch.distributed`` is never initialized.
* **Data.** Every rank draws the same shuffled order and the same global batches (seeded by
  epoch); rank ``r`` of ``W`` takes items ``r, r + W, ...`` of each batch, as
  ``DistributedSampler`` interleaves, so sentence batches stay length-bucketed. ``--batch-size``
  is the *global* batch, and one command gives the same optimization at any world size. A
  last batch with fewer items than ranks is skipped (at most ``W - 1`` items an epoch).
* **Gradients.** Each rank's loss is its shard's summed negative ELBO times ``W``; DDP averages
  gradients over ranks, so the update is the gradient of the global batch's summed loss, as
  in one process. The KL weight comes from the global step.
* **Randomness.** Rank ``r`` samples from its own stream (``seed + r * 1_000_003``); the weights
  start equal (DDP broadcasts rank 0's).
* **Files.** Only rank 0 writes checkpoints, metrics, plots and the progress bar; its
  decisions (best epoch, plateau, early stop) and a stop on a signal reach every rank.
* **Evaluation.** Validation and the final evaluation are sharded by batch over the ranks
  (:func:`ppl_vae.ops.world.map_batches`), each batch seeded by its index, and the per-item
  figures gathered on every rank: the same figures as one process.
* **A rank that dies** ends the job: ``torchrun`` sees the failed worker, stops the others and
  exits non-zero; the run directory keeps its last checkpoint, and ``--resume`` continues it.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

from ppl_vae.ops.world import World, all_sum, barrier, broadcast, world

__all__ = ["RANK_SEED_STRIDE", "World", "all_sum", "barrier", "broadcast", "init_from_env",
           "shard", "world", "wrap"]  # fmt: skip

#: the offset between the sampling streams of consecutive ranks
RANK_SEED_STRIDE = 1_000_003


def init_from_env(device: str = "cpu") -> World:
    """Join the process group that ``torchrun`` describes in the environment, once; a plain
    process (no ``WORLD_SIZE``, or 1) stays alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = device == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return world()


def shard(idx: np.ndarray, w: World) -> np.ndarray:
    """This rank's items of a global batch."""
    return idx[w.rank :: w.size] if w.distributed else idx


def wrap(loss_fn: torch.nn.Module, w: World, device: torch.device) -> torch.nn.Module:
    """``loss_fn`` under DDP in a distributed run (rank 0's weights broadcast), else itself."""
    if not w.distributed:
        return loss_fn
    if device.type != "cuda":
        return torch.nn.parallel.DistributedDataParallel(loss_fn)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return torch.nn.parallel.DistributedDataParallel(loss_fn, device_ids=[index])
