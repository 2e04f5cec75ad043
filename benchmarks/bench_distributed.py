"""Training throughput at 1 and 2 processes (torchrun, gloo, one thread each).

Runs ``ppl-vae train`` for a few epochs under ``torchrun --nproc-per-node P`` and reads the
training seconds from ``metrics.jsonl``: documents per second for NVDM on 20News, and tokens
per second for the sentence VAE on PTB (a slice of its epoch, set by ``--sentence-epochs``).
Scaling efficiency is the throughput at P processes over P times that at one.

    python benchmarks/bench_distributed.py [--epochs 2] [--skip-sentences]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ppl_vae.data import data_root
from ppl_vae.data.sentences import load_sentence_data


def train_seconds(procs: int, argv: list[str]) -> float:
    """Seconds of training (all epochs, validation excluded) of one launch."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={procs}", "-m", "ppl_vae", "train", *argv, "--out", out,
               "--threads", "1", "--no-progress", "--eval-samples", "0"]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").open()]
        return records[-1]["seconds"]


def main(args) -> None:
    root = data_root()
    jobs = {"NVDM, 20News": (["nvdm", "--data", str(root / "20news"), "--epochs",
                              str(args.epochs)], 10705 * args.epochs, "documents")}  # fmt: skip
    if not args.skip_sentences:
        ptb = load_sentence_data(root / "ptb", max_vocab=10002)
        jobs["sentence VAE, PTB"] = (
            ["sentence-vae", "--data", str(root / "ptb"), "--epochs", "1", "--max-vocab", "10002"],
            int(ptb.train.lengths.sum()),  # words and <eos>, the tokens each epoch predicts
            "tokens",
        )
    for name, (argv, items, unit) in jobs.items():
        rates = {p: items / train_seconds(p, argv) for p in (1, 2)}
        print(f"{name}: {rates[1]:.0f} {unit}/s at 1 process, {rates[2]:.0f} at 2; "
              f"scaling efficiency {rates[2] / (2 * rates[1]):.2f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--skip-sentences", action="store_true", help="NVDM only (quick)")
    main(parser.parse_args())
