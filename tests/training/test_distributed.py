"""Training under torch.distributed (gloo, two processes): the same optimization as one
process with the same global batch, files written once, and runs that resume at another
world size."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.runs import read_metrics
from ppl_vae.runs.registry import build
from ppl_vae.training import train
from tests.training import ddp_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(fn, *args, size: int = 2) -> None:
    mp.spawn(fn, args=(size, free_port(), *args), nprocs=size, join=True)


def test_two_processes_take_the_steps_one_process_takes(tmp_path):
    out = tmp_path / "two.pt"
    spawn(ddp_worker.steps, str(out))
    data, c = load_sentence_data(), ddp_worker.config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, guide, data.train, None, c, progress=False)
    two = torch.load(out, weights_only=True)
    for name, weight in model.state_dict().items():
        assert not torch.equal(weight, before[name]) or "bias_hh" in name  # it trained
        torch.testing.assert_close(two[name], weight, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sizes", [(2, 1), (1, 2)], ids=["2-then-1", "1-then-2"])
def test_a_run_resumes_at_another_world_size_and_is_written_once(tmp_path, sizes):
    first, second = sizes
    spawn(ddp_worker.run, str(tmp_path), 1, False, size=first)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1]  # one writer, not one per rank
    spawn(ddp_worker.run, str(tmp_path), 2, True, size=second)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2]
    assert not (tmp_path / ".lock").exists()


def test_the_gradient_is_the_global_batchs_not_an_average_of_shards(tmp_path):
    """Adam would hide a gradient off by the world size; compare the gradient itself."""
    import numpy as np
    import pyro

    from ppl_vae.infer.objectives import make_objective

    out = tmp_path / "grads.pt"
    spawn(ddp_worker.gradients, str(out))
    data, c = load_sentence_data(), ddp_worker.config(1)
    torch.manual_seed(0)
    model, guide = build(c, len(data.vocab))
    with pyro.settings.context(module_local_params=True):
        make_objective(c.objective)(model, guide)(*data.train.make_batch(np.arange(16))).backward()
    two = torch.load(out, weights_only=True)
    for name, p in model.named_parameters():
        torch.testing.assert_close(two[name], p.grad, rtol=1e-4, atol=1e-5)
