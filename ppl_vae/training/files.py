"""The files a training run keeps in its directory, and the metrics log."""

from __future__ import annotations

import json
from pathlib import Path

CHECKPOINT = "checkpoint.pt"  # the latest state
BEST = "best.pt"  # the state of the best validation epoch
METRICS = "metrics.jsonl"  # one JSON record per epoch


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The epoch records of ``run_dir/metrics.jsonl`` (none if there is no such file)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_metrics(run_dir: Path, record: dict) -> None:
    with (run_dir / METRICS).open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, epochs: int) -> list[dict]:
    """Drop the records after epoch ``epochs`` (written after the checkpoint a run resumes
    from); return those kept."""
    history = [r for r in read_metrics(run_dir) if r["epoch"] <= epochs]
    if (run_dir / METRICS).exists():
        (run_dir / METRICS).write_text("".join(json.dumps(r) + "\n" for r in history))
    return history
