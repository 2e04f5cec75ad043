"""The README's main command at the default thread setting and at ``--threads 1``, on a quiet
machine and beside a competing CPU-bound process.

Runs ``ppl-vae train nvdm --out RUN --overwrite --no-progress`` (the embedded synthetic
corpus, training then the test evaluation) as a whole process, timing its wall clock. The
four settings (default or ``--threads 1``; quiet or beside one busy-looping Python process)
are run in alternating rounds, and the medians reported, with the ratio of the default's time
to ``--threads 1``'s in each condition (goal: at most 1.5 beside the competitor).

    python benchmarks/bench_threads.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = [sys.executable, "-c", "while True: pass"]


def run_main_command(out: Path, threads: list[str]) -> float:
    command = [sys.executable, "-m", "ppl_vae", "train", "nvdm", "--out", str(out),
               "--overwrite", "--no-progress", *threads]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(args) -> None:
    settings = {
        ("quiet", "default"): ([], False),
        ("quiet", "--threads 1"): (["--threads", "1"], False),
        ("busy", "default"): ([], True),
        ("busy", "--threads 1"): (["--threads", "1"], True),
    }
    times: dict[tuple[str, str], list[float]] = {key: [] for key in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for key, (threads, busy) in settings.items():
                competitor = subprocess.Popen(BUSY) if busy else None
                try:
                    times[key].append(run_main_command(Path(tmp) / "run", threads))
                finally:
                    if competitor is not None:
                        competitor.kill()
                        competitor.wait()
    med = {key: statistics.median(ts) for key, ts in times.items()}
    print(f"ppl-vae train nvdm --out RUN (whole process), medians of {args.rounds} rounds:")
    for (condition, threads), seconds in med.items():
        print(f"  {condition:>5}, {threads:>12}: {seconds:6.1f} s")
    for condition in ("quiet", "busy"):
        ratio = med[condition, "default"] / med[condition, "--threads 1"]
        print(f"{condition}: default / --threads 1 = {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args())
