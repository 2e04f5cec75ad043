"""The training loop.

:func:`train` reads top to bottom: for each epoch, shuffle, take optimizer steps on the
module-local objective ``objective(model, guide)`` with the KL weight beta from the annealing
schedule, validate, log a JSONL record, checkpoint, and stop early when validation stops
improving. The named steps it calls live on :class:`Session`. Runs are resumable from any
checkpoint, including one written mid-epoch when SIGINT or SIGTERM arrives; a NaN loss stops the
run and keeps the last good checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyro
import torch
from tqdm.auto import tqdm

from ppl_vae.config import TrainConfig
from ppl_vae.infer.iwae import check_iwae
from ppl_vae.infer.objectives import make_objective, objective_class
from ppl_vae.ops.annealing import make_schedule
from ppl_vae.ops.count_input import choose_sparse_input, count_mlps, set_sparse_input
from ppl_vae.ops.rng import own_rng
from ppl_vae.training.averaging import ParameterAverage
from ppl_vae.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ppl_vae.training.distributed import (
    RANK_SEED_STRIDE,
    all_sum,
    broadcast,
    shard,
    world,
    wrap,
)
from ppl_vae.training.files import BEST, CHECKPOINT, METRICS, append_metrics, truncate_metrics
from ppl_vae.training.monitor import (
    batch_kl,
    collapse_warning,
    finite,
    loss_spike,
    validation_record,
)
from ppl_vae.training.optim import make_optimizer, optimizer_step, set_lr, trainable_parameters
from ppl_vae.training.signals import StopOnSignal
from ppl_vae.training.state import TrainingDiverged, TrainResult, TrainState

logger = logging.getLogger(__name__)

KL_EVERY = 10  # steps between the training-KL estimates shown in the progress bar


def train(
    model: torch.nn.Module,
    guide: torch.nn.Module,
    train_data,
    valid_data,
    config: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    extra: dict | None = None,
) -> TrainResult:
    """Train ``model`` and ``guide`` on the objective ``config.objective``.

    :param train_data: a :class:`~ppl_vae.data.corpus.Corpus` (e.g. a
        :class:`~ppl_vae.data.BowCorpus`).
    :param valid_data: a corpus, or None for no validation (and no early stopping).
    :param run_dir: where ``checkpoint.pt``, ``best.pt`` and ``metrics.jsonl`` go; None keeps
        nothing on disk.
    :param resume: continue from ``run_dir/checkpoint.pt``.
    :param extra: plain data stored in every checkpoint (e.g. the vocabulary).
    :raises TrainingDiverged: if the loss becomes NaN or infinite.

    The loss is the module ``objective(model, guide)`` (see :mod:`ppl_vae.infer.base`), run
    with Pyro's ``module_local_params`` on and optimized by a torch optimizer over the model's
    and guide's own parameters: Pyro's param store is neither read, written nor cleared. The
    run draws from torch's RNG seeded with ``config.seed`` (or restored from the checkpoint when
    resuming), forked from the caller's: the caller's RNG state is the same after the call as
    before.
    """
    rank = world().rank
    with (
        own_rng(config.seed + rank * RANK_SEED_STRIDE),
        pyro.settings.context(module_local_params=True),
    ):
        run = Session(model, guide, train_data, config, run_dir, extra)
        run.begin(resume)
        status = "completed"
        with StopOnSignal() as stop:
            while run.state.epoch < config.epochs:
                lr = run.epoch_lr()
                if not run.train_epoch(lr, progress, stop):
                    status = "interrupted"
                    run.save_interrupted()
                    break
                record = run.epoch_record(lr)
                if valid_data is not None:
                    record.update(run.validate(valid_data))
                run.end_epoch(record, validated="valid_elbo" in record)
                if config.patience and run.state.bad_epochs >= config.patience:
                    status = "early_stopped"
                    logger.info(
                        "no validation improvement for %d epochs; best was epoch %d",
                        config.patience,
                        run.state.best_epoch,
                    )
                    break
        return TrainResult(status, run.state, run.history, run.run_dir, stop.signum)


class Session:
    """One training run's moving parts, and the named steps :func:`train` takes with them."""

    def __init__(self, model, guide, data, config: TrainConfig, run_dir, extra) -> None:
        self.model, self.guide, self.data, self.config = model, guide, data, config
        self.epoch_tokens, self.epoch_seconds = 0, 0.0  # the last epoch's, for its rate
        self.device = torch.device(config.device)
        model.to(self.device)
        guide.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.extra = extra or {}
        own = {k: getattr(config, k) for k in objective_class(config.objective).config_options}
        objective = make_objective(config.objective, config.num_particles, config.free_bits, **own)
        self.objective = objective
        self.world = world()
        # an nn.Module (Pyro's ELBOModule), under DDP in a distributed run
        self.loss_fn = wrap(objective(model, guide), self.world, self.device)
        self.optimizer = make_optimizer(trainable_parameters(model, guide), config)
        steps_per_epoch = math.ceil(len(data) / config.batch_size)
        self.schedule = make_schedule(
            config.anneal,
            round(config.anneal_epochs * steps_per_epoch),
            beta=config.beta,
            start=config.beta_start,
        )
        self.average = (
            ParameterAverage([model, guide], config.ema_decay) if config.ema_decay else None
        )
        self.state, self.history = TrainState(), []
        #: the objective scores a normalized model (else no KL and no ELBO to validate)
        self.normalized = getattr(objective, "normalized", True)

    def validate(self, data) -> dict:
        """The validation figures, with the weights that evaluation uses (the moving average,
        if one is kept); in a distributed run, shared out over the ranks."""
        if not finite(self.model, self.guide):
            raise TrainingDiverged(
                f"the weights became non-finite in epoch {self.state.epoch + 1} (last step "
                f"{self.state.step}). Try a lower --lr or --clip-norm."
            )
        with self.average.applied() if self.average else nullcontext():
            c = self.config
            if not getattr(self.objective, "normalized", True):  # e.g. an RBM: its own figures
                return self.objective.validation_record(
                    self.model, self.guide, data, self.device, c.seed
                )
            return validation_record(
                self.model, self.guide, data, c.valid_samples, self.device, c.seed
            )

    def begin(self, resume: bool) -> None:
        """Check the pairing, then restore the run from its checkpoint, or start its directory
        with a checkpoint of the initial state (the last good one, should step 1 diverge)."""
        if self.config.objective == "iwae":  # per datapoint only if every site is in the plate
            first = self.data.make_batch(np.arange(min(2, len(self.data))), self.device)
            check_iwae(self.model, self.guide, first)
        self.choose_input(resume)
        if resume:
            if self.run_dir is None:
                raise ValueError("resume needs a run_dir")
            self.restore()
            s = self.state
            logger.info("resumed at epoch %d, batch %d (step %d)", s.epoch, s.batch, s.step)
        elif self.run_dir is not None and self.world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / METRICS).unlink(missing_ok=True)
            self.save(CHECKPOINT)

    def choose_input(self, resume: bool) -> None:
        """Dense or sparse input for the document encoders (:mod:`ppl_vae.ops.count_input`):
        the config's choice, else measured on a first batch (rank 0's answer for every rank)
        and written into the config, so that a resumed run takes the same path. A run saved
        before the choice existed resumes dense, as it was trained."""
        c = self.config
        if c.sparse_input is None and count_mlps(self.guide):
            if resume:
                c.sparse_input = False
            else:
                idx = np.arange(min(c.batch_size, len(self.data)))
                (x, *_) = self.data.make_batch(idx, self.device)
                c.sparse_input = bool(broadcast(choose_sparse_input(x, self.guide), self.world))
        set_sparse_input(bool(c.sparse_input), self.guide)

    def epoch_lr(self) -> float:
        c, s = self.config, self.state
        lr = c.lr * c.lr_decay**s.epoch * s.lr_scale
        set_lr(self.optimizer, lr)
        return lr

    def train_epoch(self, lr: float, progress: bool, stop: StopOnSignal) -> bool:
        """The rest of the current epoch's steps; False if a signal stopped it."""
        c, s = self.config, self.state
        order = torch.Generator().manual_seed(c.seed * 100_003 + s.epoch)
        batches = self.data.batch_indices(c.batch_size, shuffle=True, generator=order)
        self.model.train()
        self.guide.train()
        bar = tqdm(
            total=len(batches),
            initial=s.batch,
            desc=f"epoch {s.epoch + 1}/{c.epochs}",
            disable=not progress or not self.world.main,
            leave=False,
        )
        started = time.perf_counter()
        lengths = getattr(self.data, "lengths", None)  # tokens per item, for tokens per second
        self.epoch_tokens = 0
        for idx in batches[s.batch :]:
            if len(idx) < self.world.size:  # too few items for every rank: skipped
                s.batch += 1
                continue
            if lengths is not None:
                self.epoch_tokens += int(lengths[idx].sum())  # the global batch's
            idx = shard(idx, self.world)
            args = self.data.make_batch(idx, self.device)
            beta = self.schedule(s.step)
            loss = self.step(args, beta, lr)
            if self.world.distributed:  # the global batch's loss, and a stop on any rank
                loss, n, signalled = all_sum([loss, len(idx), stop.signum is not None], self.world)
                if signalled and stop.signum is None:
                    stop.signum = signal.SIGTERM
            else:
                n = len(idx)
            s.add_step(loss, int(n))
            if self.average is not None:
                self.average.update()
            if (s.step % KL_EVERY == 0 or s.batch == 1) and self.normalized:
                s.add_kl(self.kl(args, beta, lr))
            bar.update(1)
            rate = self.epoch_tokens / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(loss=f"{s.mean_loss:.1f}", kl=f"{s.mean_kl:.2f}", beta=f"{beta:.3f}",
                            tok_s=f"{rate:.0f}")  # fmt: skip
            if stop.signum is not None:
                break
        bar.close()
        self.epoch_seconds = time.perf_counter() - started
        s.seconds += self.epoch_seconds
        return stop.signum is None

    def step(self, args: tuple, beta: float, lr: float) -> float:
        """One optimizer step; :class:`TrainingDiverged` if its loss is not finite."""
        try:
            loss = optimizer_step(self.loss_fn, self.optimizer, args, beta,
                                  self.config.clip_norm, scale=self.world.size)  # fmt: skip
        except ValueError as e:  # with validation on, NaNs fail distribution checks
            if not self.non_finite(e):
                raise
            logger.error("step failed on non-finite values: %s", str(e).splitlines()[0])
            loss = math.nan
        if not math.isfinite(loss):
            kept = (
                f"; the last good checkpoint is {self.run_dir / CHECKPOINT}" if self.run_dir else ""
            )
            raise TrainingDiverged(
                f"loss became {loss} at epoch {self.state.epoch + 1}, step {self.state.step + 1} "
                f"(beta={beta:.3g}, lr={lr:.3g}){kept}. Try a lower --lr or --clip-norm."
            )
        return loss

    def non_finite(self, error: ValueError) -> bool:
        """Whether ``error`` (Pyro's validation refusing a distribution's parameters) comes
        from NaNs, or from weights that are no longer finite."""
        return "nan" in str(error).lower() or not finite(self.model, self.guide)

    def kl(self, args: tuple, beta: float, lr: float) -> float:
        """The batch's mean KL, for the progress bar; :class:`TrainingDiverged` if it is not
        finite (the weights have gone bad even though the loss has not yet)."""
        try:
            kl = batch_kl(self.model, self.guide, *args)
        except ValueError as e:  # Pyro's validation refuses a distribution's NaN parameters
            if not self.non_finite(e):
                raise
            kl = math.nan
        if not math.isfinite(kl):
            raise TrainingDiverged(
                f"the KL estimate became {kl} at epoch {self.state.epoch + 1}, step "
                f"{self.state.step} (beta={beta:.3g}, lr={lr:.3g}). Try a lower --lr or "
                "--clip-norm."
            )
        return kl

    def epoch_record(self, lr: float) -> dict:
        """The epoch's training figures, with a warning if its loss spiked."""
        s = self.state
        record = {
            "epoch": s.epoch + 1,
            "step": s.step,
            "beta": self.schedule(s.step - 1),
            "lr": lr,
            "train_loss": s.mean_loss,
            "train_kl": s.mean_kl,
            "seconds": round(s.seconds, 2),
        }
        if not self.normalized:  # no KL is formed (an RBM's CD): none to report
            del record["train_kl"]
        if self.epoch_tokens:  # this epoch's (or, resumed mid-epoch, its rest's) training rate
            record["tokens_per_second"] = round(self.epoch_tokens / max(self.epoch_seconds, 1e-9))
        spike = loss_spike(record["train_loss"], [r["train_loss"] for r in self.history])
        if spike is not None:
            record["warning"] = spike
            logger.warning("epoch %d: %s", s.epoch + 1, spike)
        return record

    def end_epoch(self, record: dict, validated: bool) -> None:
        """Close the epoch in the state, log its record, and checkpoint (``best.pt`` too when
        validation improved, or always without validation)."""
        monitored = -record["valid_elbo"] if validated else None
        improved = self.state.end_epoch(monitored, self.config.lr_drop)
        # every rank has the same validation figures; rank 0's state (its clock too) holds
        self.state = broadcast(self.state, self.world)
        informative = getattr(self.guide, "has_latent", True) and not getattr(
            self.guide, "deterministic", False
        )  # an autoencoder has no KL to collapse
        if validated and self.world.main and informative:
            self.check_collapse(record)
        self.history.append(record)
        logger.info("epoch %s", json.dumps(record))
        if self.run_dir is not None and self.world.main:
            append_metrics(self.run_dir, record)
            # best.pt first: a kill between the two writes leaves checkpoint.pt at the epoch
            # before, which redoes this epoch and writes both again, never a stale best.pt
            if improved or not validated:
                self.save(BEST)
            self.save(CHECKPOINT)

    def check_collapse(self, record: dict) -> None:
        """At the end of annealing and of training, warn (in the log and in the record) if the
        validation KL or active units say the model ignores ``z``."""
        c, s = self.config, self.state
        last = s.epoch >= c.epochs or bool(c.patience and s.bad_epochs >= c.patience)
        # the epoch in which the warm-up's nominal length ends (a sigmoid only nears its final
        # beta, 0.9933 of it there; a cyclical schedule: the end of its first cycle)
        annealed = c.anneal != "constant" and s.epoch - 1 < c.anneal_epochs <= s.epoch
        warning = collapse_warning(record["valid_kl"], record["valid_active_units"], c, self.model)
        if warning and (last or annealed):
            record["warning"] = "; ".join(filter(None, [record.get("warning"), warning]))
            logger.warning("epoch %d: %s", s.epoch, warning)

    def save_interrupted(self) -> None:
        if self.run_dir is not None and self.world.main:
            self.save(CHECKPOINT)
            logger.warning("checkpoint saved to %s; resume with --resume", self.run_dir)

    def save(self, name: str) -> None:
        payload = {
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "guide": self.guide.state_dict(),
            "optim": self.optimizer.state_dict(),
            "rng": rng_state(),
            "state": asdict(self.state),
            "extra": self.extra,
        }
        if self.average:
            payload["average"] = self.average.state()
        save_checkpoint(self.run_dir / name, payload)

    def restore(self) -> None:
        path = self.run_dir / CHECKPOINT
        payload = load_checkpoint(path)
        self.model.load_state_dict(payload["model"])
        self.guide.load_state_dict(payload["guide"])
        if self.average is not None:
            self.average.load_state(payload["average"])
        if not {"state", "param_groups"} <= set(payload["optim"]):
            raise CheckpointError(
                f"{path}: written by ppl-vae before 0.2 (a Pyro optimizer's state, keyed by "
                "param-store names); it can still be evaluated, but not resumed"
            )
        self.optimizer.load_state_dict(payload["optim"])
        set_rng_state(payload["rng"], torch_only=True)
        self.state = TrainState(**payload["state"])
        if self.world.rank:  # the saved stream is rank 0's: the others take their own
            torch.manual_seed(
                self.config.seed + self.world.rank * RANK_SEED_STRIDE + self.state.step
            )
        if self.world.main:  # only rank 0 writes
            self.history = truncate_metrics(self.run_dir, self.state.epoch)
