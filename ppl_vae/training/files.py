"""The files a training run keeps in its directory, the metrics log, and the lock that makes
one process the run's only writer."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"  # the latest state
BEST = "best.pt"  # the state of the best validation epoch
METRICS = "metrics.jsonl"  # one JSON record per epoch
CONFIG = "config.json"  # a readable copy of the config (the checkpoint's copy is authoritative)
LOCK = ".lock"  # {"pid": ..., "host": ...} of the process writing the run
#: what a run directory holds, besides its lock
RUN_FILES = (CHECKPOINT, BEST, METRICS, CONFIG, "vocab.txt", "curves.png")


class RunError(RuntimeError):
    """A run directory that cannot be used as asked: taken by another writer, already holding
    a run, not a directory, or not writable."""


def read_run_config(run_dir: str | Path) -> dict:
    """The readable copy of a run's config, ``run_dir/config.json`` ({} if there is none).

    :raises RunError: naming the file and line if it is not JSON (edited, or cut off).
    """
    path = Path(run_dir) / CONFIG
    if not path.exists():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = f" (line {e.lineno})" if isinstance(e, json.JSONDecodeError) else ""
        raise RunError(f"{path}: not valid JSON{line}; it was edited or cut off") from None
    return config if isinstance(config, dict) else {}


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The epoch records of ``run_dir/metrics.jsonl`` (none if there is no such file). A cut-off
    last line (a write interrupted by a kill) is left out with a warning; a bad line elsewhere
    is a :class:`RunError` naming the file and the line."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                logger.warning("%s: line %d is cut off; left out", path, number)
                continue
            raise RunError(f"{path}: line {number} is not a JSON record") from None
    return records


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


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` already holds a run's checkpoints or metrics."""
    return any((run_dir / name).exists() for name in (CHECKPOINT, BEST, METRICS))


def remove_run(run_dir: Path) -> None:
    """Delete a run's files from ``run_dir`` (for ``--overwrite``), nothing else."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Within the block, this process is the only writer of ``run_dir``.

    Creates the directory if need be, then the lock file ``.lock`` (exclusively) with this
    process's PID and host. A lock held by a live process refuses with :class:`RunError`; one
    left by a dead process on this host is stale and taken over (with a warning). Temporary
    files of checkpoint writes that a kill interrupted are removed.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.owner = {"pid": os.getpid(), "host": socket.gethostname()}

    def __enter__(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._acquire()
        except OSError as e:
            raise RunError(
                f"{self.run_dir}: cannot be used as a run directory: {e.strerror}"
            ) from None
        for tmp in self.run_dir.glob(".*.pt.*.tmp"):  # left by an interrupted checkpoint write
            logger.warning("%s: removing %s, left by an interrupted write", self.run_dir, tmp.name)
            tmp.unlink(missing_ok=True)
        return self

    def _acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self.owner, f)
            return
        raise RunError(f"{self.run_dir}: could not take the lock {self.path}")

    def _check_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text())
            pid, host = int(owner["pid"]), str(owner["host"])
        except (OSError, ValueError, KeyError, TypeError):
            pid, host = -1, self.owner["host"]  # unreadable: a write cut off by a kill
        if host != self.owner["host"]:
            raise RunError(
                f"{self.run_dir} is locked by process {pid} on host {host} ({self.path}); if "
                "that run is over, remove the lock file"
            )
        if pid > 0 and _alive(pid):
            raise RunError(
                f"{self.run_dir} is being written by process {pid} on this host; wait for it, "
                "or train into another --out"
            )
        logger.warning("%s: taking over a stale lock of process %d", self.run_dir, pid)
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
