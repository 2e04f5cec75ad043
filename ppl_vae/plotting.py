"""Training-curve plots, saved to files with matplotlib (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_training_curves(history: list[dict], path: str | Path) -> Path:
    """Save ELBO (train loss and validation), KL and beta against epoch as a PNG."""
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.plot(epochs, [-r["train_loss"] for r in history], label="train (annealed ELBO)")
    if "valid_elbo" in history[0]:
        ax.plot(epochs, [r["valid_elbo"] for r in history], label="valid ELBO")
    ax.set(xlabel="epoch", ylabel="nats per datapoint", title="ELBO")
    ax.legend()
    ax = axes[1]
    ax.plot(epochs, [r["train_kl"] for r in history], label="train")
    if "valid_kl" in history[0]:
        ax.plot(epochs, [r["valid_kl"] for r in history], label="valid")
    ax.set(xlabel="epoch", ylabel="nats", title="KL(q(z|x) || p(z))")
    ax.legend()
    ax = axes[2]
    ax.plot(epochs, [r["beta"] for r in history])
    ax.set(xlabel="epoch", ylabel="beta", title="KL weight", ylim=(-0.05, 1.05))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_objective(history: list[float], step: str, path: str | Path) -> Path:
    """Save a training objective (e.g. EM's bound) against iteration as a PNG."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(range(len(history)), history)
    ax.set(xlabel=step, ylabel="nats", title="training objective")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
