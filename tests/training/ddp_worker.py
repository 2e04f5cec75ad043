"""Processes for the distributed tests: each joins a gloo group and trains or resumes a run."""

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


def join(rank: int, size: int, rendezvous: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=size)


def leave() -> None:
    """Leave the group together: a rank that tears gloo down while its peer still talks to it
    can abort the peer."""
    dist.barrier()
    dist.destroy_process_group()


def steps(rank: int, size: int, rendezvous: str, out: str) -> None:
    """Train an RNNLM (no latent: the loss has no randomness) for one epoch, without files;
    rank 0 saves the weights for the test to compare."""
    join(rank, size, rendezvous)
    data = load_sentence_data()
    c = config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    train(model, guide, data.train, None, c, progress=False)
    if rank == 0:
        torch.save(model.state_dict(), out)
    leave()


def run(rank: int, size: int, rendezvous: str, run_dir: str, epochs: int, resume: bool) -> None:
    """Train (or resume) a run directory, as ``torchrun ... ppl-vae train`` does."""
    join(rank, size, rendezvous)
    data = load_sentence_data()
    overrides = {"epochs": epochs} if resume else None
    run_training(config(epochs), run_dir, resume=resume, progress=False, data=data,
                 overrides=overrides)  # fmt: skip
    leave()


def gradients(rank: int, size: int, rendezvous: str, out: str) -> None:
    """One global batch's gradient under DDP, as the trainer takes it (each rank's shard,
    its loss times the world size); rank 0 saves it."""
    import numpy as np
    import pyro

    from ppl_vae.infer.objectives import make_objective
    from ppl_vae.training.distributed import shard, world, wrap

    join(rank, size, rendezvous)
    data, c = load_sentence_data(), config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    loss_fn = wrap(make_objective(c.objective)(model, guide), world(), torch.device("cpu"))
    idx = shard(np.arange(16), world())
    with pyro.settings.context(module_local_params=True):
        (loss_fn(*data.train.make_batch(idx)) * size).backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters()}, out)
    leave()


def evaluation(rank: int, size: int, rendezvous: str, out: str) -> None:
    """The figures of sharded evaluation and validation, for a sentence VAE (the trace-based
    estimator) and NVDM (the closed-form one); rank 0 saves them."""
    join(rank, size, rendezvous)
    torch.save(evaluation_figures(), out) if rank == 0 else evaluation_figures()
    leave()


def evaluation_figures() -> dict:
    """What :func:`evaluation` computes, in whatever world this process is in."""
    from ppl_vae.data import load_documents
    from ppl_vae.evaluation import evaluate
    from ppl_vae.training.monitor import validation_record

    figures = {}
    sentences, documents = load_sentence_data(), load_documents("synthetic")
    for name, data in (("sentence-vae", sentences), ("nvdm", documents)):
        c = preset(
            name, **({"model_kwargs": SIZES} if name == "sentence-vae" else {"latent_dim": 4})
        )
        torch.manual_seed(0)
        model, guide = build(c, len(data.vocab))
        ev = evaluate(model, guide, data.test, num_samples=3, batch_size=7, seed=11)
        figures[name] = {**ev.to_dict(), "latent_means": torch.from_numpy(ev.latent_means)}
        figures[name + " validation"] = validation_record(model, guide, data.valid, 2, "cpu", 5)
    return figures
