"""Training: the loop (:func:`train`), the optimizer step, weight averaging and checkpoints."""

from ppl_vae.training.loop import (
    BEST,
    CHECKPOINT,
    METRICS,
    TrainingDiverged,
    TrainResult,
    TrainState,
    batch_kl,
    loss_spike,
    make_optimizer,
    optimizer_step,
    train,
)

__all__ = [
    "BEST",
    "CHECKPOINT",
    "METRICS",
    "TrainResult",
    "TrainState",
    "TrainingDiverged",
    "batch_kl",
    "loss_spike",
    "make_optimizer",
    "optimizer_step",
    "train",
]
