"""Processes for the distributed tests: each joins a gloo group and trains or resumes a run."""

import os

import torch
import torch.distributed as dist

from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.runs import preset, run_training
from ppl_vae.runs.registry import build
from ppl_vae.training import train

SIZES = {"embedding_dim": 8, "hidden_dim": 8}


def config(epochs: int):
    return preset("rnnlm", epochs=epochs, batch_size=16, ema_decay=0.0, model_kwargs=SIZES,
                  lr_decay=1.0)  # fmt: skip


def join(rank: int, size: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)


def steps(rank: int, size: int, port: int, out: str) -> None:
    """Train an RNNLM (no latent: the loss has no randomness) for one epoch, without files;
    rank 0 saves the weights for the test to compare."""
    join(rank, size, port)
    data = load_sentence_data()
    c = config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    train(model, guide, data.train, None, c, progress=False)
    if rank == 0:
        torch.save(model.state_dict(), out)
    dist.destroy_process_group()


def run(rank: int, size: int, port: int, run_dir: str, epochs: int, resume: bool) -> None:
    """Train (or resume) a run directory, as ``torchrun ... ppl-vae train`` does."""
    join(rank, size, port)
    data = load_sentence_data()
    overrides = {"epochs": epochs} if resume else None
    run_training(config(epochs), run_dir, resume=resume, progress=False, data=data,
                 overrides=overrides)  # fmt: skip
    dist.destroy_process_group()


def gradients(rank: int, size: int, port: int, out: str) -> None:
    """One global batch's gradient under DDP, as the trainer takes it (each rank's shard,
    its loss times the world size); rank 0 saves it."""
    import numpy as np
    import pyro

    from ppl_vae.infer.objectives import make_objective
    from ppl_vae.training.distributed import shard, world, wrap

    join(rank, size, port)
    data, c = load_sentence_data(), config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    loss_fn = wrap(make_objective(c.objective)(model, guide), world(), torch.device("cpu"))
    idx = shard(np.arange(16), world())
    with pyro.settings.context(module_local_params=True):
        (loss_fn(*data.train.make_batch(idx)) * size).backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters()}, out)
    dist.destroy_process_group()
