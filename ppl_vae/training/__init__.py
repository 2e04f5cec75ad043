"""Training: the loop (:func:`train`), the optimizer step, weight averaging and checkpoints."""

from ppl_vae.training.files import BEST, CHECKPOINT, METRICS, read_metrics
from ppl_vae.training.loop import Session, train
from ppl_vae.training.monitor import SPIKE_FACTOR, batch_kl, loss_spike
from ppl_vae.training.optim import make_optimizer, optimizer_step, trainable_parameters
from ppl_vae.training.state import TrainingDiverged, TrainResult, TrainState

__all__ = [
    "BEST",
    "CHECKPOINT",
    "METRICS",
    "SPIKE_FACTOR",
    "Session",
    "TrainResult",
    "TrainState",
    "TrainingDiverged",
    "batch_kl",
    "loss_spike",
    "make_optimizer",
    "optimizer_step",
    "read_metrics",
    "train",
    "trainable_parameters",
]
