"""Where a training run is, what it returns, and how it can fail."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left as it was."""


def _sums() -> dict:
    return {"loss": 0.0, "items": 0, "kl": 0.0, "kl_n": 0}


@dataclass
class TrainState:
    """Where a run is; saved in every checkpoint as plain data."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches completed in the current epoch
    step: int = 0  # optimizer steps completed
    best_valid: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    seconds: float = 0.0
    lr_scale: float = 1.0  # product of the plateau drops (config.lr_drop) so far
    sums: dict = field(default_factory=_sums)  # the current epoch's running totals

    def add_step(self, loss: float, items: int) -> None:
        self.sums["loss"] += loss
        self.sums["items"] += items
        self.batch += 1
        self.step += 1

    def add_kl(self, kl: float) -> None:
        self.sums["kl"] += kl
        self.sums["kl_n"] += 1

    @property
    def mean_loss(self) -> float:
        return self.sums["loss"] / max(1, self.sums["items"])

    @property
    def mean_kl(self) -> float:
        return self.sums["kl"] / max(1, self.sums["kl_n"])

    def end_epoch(self, monitored: float | None, lr_drop: float) -> bool:
        """Close the epoch; with a validation loss ``monitored``, track the best and the plateau
        (multiplying the learning-rate scale by ``lr_drop`` after an epoch without
        improvement). Returns whether the epoch improved on the best."""
        improved = monitored is not None and monitored < self.best_valid
        if improved:
            self.best_valid, self.best_epoch, self.bad_epochs = monitored, self.epoch + 1, 0
        elif monitored is not None:
            self.bad_epochs += 1
            self.lr_scale *= lr_drop  # reduce on plateau (1 = off)
        self.epoch += 1
        self.batch = 0
        self.sums = _sums()
        return improved


@dataclass
class TrainResult:
    status: str  # "completed", "early_stopped" or "interrupted"
    state: TrainState
    history: list[dict]
    run_dir: Path | None
    signum: int | None = None  # the signal that interrupted the run
