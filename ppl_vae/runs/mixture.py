"""Run directories for the mixture of multinomials, fitted by EM or by SVI with enumeration.

They use the same checkpoint format as the neural models, so ``ppl-vae evaluate`` and
``ppl-vae topics`` work on them and report the same keys. The mixture's ``log p(x)`` is exact
(a sum over the K classes), so its "ELBO" and "importance-sampled" perplexities are both exact.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ppl_vae.data import DocumentSplits
from ppl_vae.evaluation import evaluate
from ppl_vae.evaluation.plotting import plot_objective
from ppl_vae.infer.em import fit_em
from ppl_vae.infer.mixture_fit import MixtureFit
from ppl_vae.infer.mixture_svi import fit_mixture_svi
from ppl_vae.training import BEST, METRICS
from ppl_vae.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ppl_vae.training.files import read_run_config

logger = logging.getLogger(__name__)

MIXTURE = "mixture"


def train_mixture(
    data: DocumentSplits,
    run_dir: str | Path,
    algorithm: str,
    num_components: int = 20,
    *,
    beta_concentration: float = 2.0,
    weight_concentration: float = 1.0,
    restarts: int = 3,
    iterations: int = 200,
    epochs: int = 20,
    batch_size: int = 500,
    lr: float = 0.2,
    seed: int = 0,
    progress: bool = True,
) -> MixtureFit:
    """Fit a mixture to ``data.train`` by ``algorithm`` (``"em"`` or ``"svi"``) and save it."""
    common = dict(
        beta_concentration=beta_concentration,
        weight_concentration=weight_concentration,
        restarts=restarts,
        seed=seed,
        progress=progress,
    )
    if algorithm == "em":
        fit = fit_em(data.train, num_components, iterations=iterations, **common)
    elif algorithm == "svi":
        fit = fit_mixture_svi(
            data.train, num_components, epochs=epochs, batch_size=batch_size, lr=lr, **common
        )
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose em or svi")
    config = {
        "model": MIXTURE,
        "algorithm": algorithm,
        "num_components": num_components,
        "beta_concentration": beta_concentration,
        "weight_concentration": weight_concentration,
        "restarts": restarts,
        "iterations": iterations,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "data": data.source,
    }
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (run_dir / "vocab.txt").write_text("".join(w + "\n" for w in data.vocab), encoding="utf-8")
    save_checkpoint(
        run_dir / BEST,
        {
            "config": config,
            "model": fit.state_dict(),
            "guide": {},
            "state": {"iterations": fit.iterations, "seconds": fit.seconds},
            "extra": {"vocab": list(data.vocab)},
        },
    )
    step = "iteration" if algorithm == "em" else "epoch"
    with (run_dir / METRICS).open("w", encoding="utf-8") as f:
        for i, value in enumerate(fit.history):
            f.write(json.dumps({step: i, "train_objective": value}) + "\n")
    if fit.history:
        plot_objective(fit.history, step, run_dir / "curves.png")
    return fit


def is_mixture_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a mixture run (by its ``config.json``)."""
    return read_run_config(run_dir).get("model") == MIXTURE


def load_mixture(run_dir: str | Path) -> tuple[MixtureFit, dict, list[str], Path]:
    path = Path(run_dir) / BEST
    payload = load_checkpoint(path)
    if payload["config"].get("model") != MIXTURE:
        raise CheckpointError(
            f"{Path(run_dir) / 'config.json'} says this is a mixture run, but {path} holds a "
            f"{payload['config'].get('model')} run: config.json was edited (the checkpoint's "
            "own copy of the config is the one that counts)"
        )
    return (
        MixtureFit.from_state_dict(payload["model"]),
        payload["config"],
        list(payload["extra"]["vocab"]),
        path,
    )


def evaluate_mixture(fit: MixtureFit, corpus) -> dict:
    """The keys of :class:`~ppl_vae.evaluation.Evaluation`, computed exactly: the same as
    ``evaluate(fit, None, corpus).to_dict()``."""
    return evaluate(fit, None, corpus).to_dict()
