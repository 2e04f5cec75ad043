"""Training throughput at 1 and 2 processes (torchrun, gloo, one thread each).

Runs ``ppl-vae train`` under ``torchrun --nproc-per-node P`` and reads the training seconds
from ``metrics.jsonl``: documents per second for NVDM on 20News (``--epochs`` epochs), and
tokens per second for the sentence VAE on PTB (one epoch, about 7 minutes a launch on one
core). Scaling efficiency is the throughput at P processes over P times that at one.

Where the time goes: the same number of gloo all-reduces of a gradient of the model's size,
timed alone in two processes, against what the second process added to an epoch. The rest is
the per-step reduction of the loss and the signal flag, and Python.

    python benchmarks/bench_distributed.py [--epochs 2] [--skip-sentences]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ppl_vae.data import data_root, load_documents
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.runs import preset
from ppl_vae.runs.registry import build


def train_seconds(procs: int, argv: list[str]) -> tuple[float, int]:
    """Seconds of training (all epochs, validation excluded) of one launch, and its steps."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={procs}", "-m", "ppl_vae", "train", *argv, "--out", out,
               "--threads", "1", "--no-progress", "--eval-samples", "0"]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").open()]
        return records[-1]["seconds"], records[-1]["step"]


def parameter_count(model: str, vocab_size: int, **overrides) -> int:
    model_, guide = build(preset(model, synthetic=False, **overrides), vocab_size)
    return sum(p.numel() for m in (model_, guide) for p in m.parameters())


def _allreduce(rank: int, size: int, port: int, numel: int, steps: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    grad = torch.randn(numel)
    dist.all_reduce(grad)  # warm-up
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        dist.all_reduce(grad)
    seconds = time.perf_counter() - start
    dist.barrier()
    if rank == 0:
        Path(out).write_text(str(seconds))
    dist.destroy_process_group()


def allreduce_seconds(numel: int, steps: int) -> float:
    """Seconds that ``steps`` all-reduces of ``numel`` floats take in two gloo processes."""
    with socket.socket() as s, tempfile.NamedTemporaryFile() as out:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        mp.spawn(_allreduce, args=(2, port, numel, steps, out.name), nprocs=2, join=True)
        return float(Path(out.name).read_text())


def main(args) -> None:
    root = data_root()
    news = load_documents(root / "20news")
    jobs = {
        "NVDM, 20News": (
            ["nvdm", "--data", str(root / "20news"), "--epochs", str(args.epochs)],
            len(news.train) * args.epochs,
            "documents",
            parameter_count("nvdm", len(news.vocab)),
        )
    }
    if not args.skip_sentences:
        ptb = load_sentence_data(root / "ptb", max_vocab=10002)
        jobs["sentence VAE, PTB"] = (
            ["sentence-vae", "--data", str(root / "ptb"), "--epochs", "1", "--max-vocab", "10002"],
            int(ptb.train.lengths.sum()),  # words and <eos>, the tokens each epoch predicts
            "tokens",
            parameter_count("sentence-vae", len(ptb.vocab)),
        )
    for name, (argv, items, unit, numel) in jobs.items():
        (one, steps), (two, _) = train_seconds(1, argv), train_seconds(2, argv)
        rates = {1: items / one, 2: items / two}
        reduce = allreduce_seconds(numel, steps)
        print(f"{name}: {rates[1]:.0f} {unit}/s at 1 process ({one:.1f} s), {rates[2]:.0f} at 2 "
              f"({two:.1f} s); scaling efficiency {rates[2] / (2 * rates[1]):.2f}")  # fmt: skip
        print(f"  ideal at 2: {one / 2:.1f} s; lost {two - one / 2:.1f} s, of which the "
              f"{steps} gradient all-reduces ({numel / 1e6:.2f}M floats) take {reduce:.1f} s "
              f"alone ({1e3 * reduce / max(steps, 1):.1f} ms each)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--skip-sentences", action="store_true", help="NVDM only (quick)")
    main(parser.parse_args())
