"""Training-curve plots, saved to files with matplotlib (no display needed).

Figures are made with :class:`matplotlib.figure.Figure` directly, not through ``pyplot``: no
backend is selected and no figure is registered, so a user's notebook backend is untouched.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def plot_training_curves(history: list[dict], path: str | Path) -> Path:
    """Save ELBO (train loss and validation), KL and beta against epoch as a PNG; for a run
    without a KL (an RBM trained by contrastive divergence), its reconstruction error and
    validation free energy."""
    epochs = [r["epoch"] for r in history]
    if "train_kl" not in history[0]:
        return _plot_cd_curves(history, epochs, Path(path))
    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 3)
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
    return path


def _plot_cd_curves(history: list[dict], epochs: list[int], path: Path) -> Path:
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    ax = axes[0]
    ax.plot(epochs, [r["train_loss"] for r in history], label="train")
    if "valid_reconstruction" in history[0]:
        ax.plot(epochs, [r["valid_reconstruction"] for r in history], label="valid")
    ax.set(xlabel="epoch", ylabel="nats per document", title="reconstruction error")
    ax.legend()
    if "valid_free_energy" in history[0]:
        axes[1].plot(epochs, [r["valid_free_energy"] for r in history])
    axes[1].set(xlabel="epoch", ylabel="nats per document", title="validation free energy F(x)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_objective(history: list[float], step: str, path: str | Path) -> Path:
    """Save a training objective (e.g. EM's bound) against iteration as a PNG."""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.plot(range(len(history)), history)
    ax.set(xlabel=step, ylabel="nats", title="training objective")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def plot_comparison(histories: dict[str, list[dict]], path: str | Path) -> Path:
    """Save validation ELBO and KL against epoch, one line per run, on shared axes."""
    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2, sharex=True)
    for name, history in histories.items():
        rows = [r for r in history if "valid_elbo" in r]
        if not rows:
            rows, key = history, "train_loss"
            axes[0].plot([r["epoch"] for r in rows], [-r[key] for r in rows], label=name)
        else:
            axes[0].plot([r["epoch"] for r in rows], [r["valid_elbo"] for r in rows], label=name)
        kl_key = "valid_kl" if rows and "valid_kl" in rows[0] else "train_kl"
        axes[1].plot([r["epoch"] for r in rows], [r[kl_key] for r in rows], label=name)
    axes[0].set(xlabel="epoch", ylabel="nats per datapoint", title="validation ELBO")
    axes[1].set(xlabel="epoch", ylabel="nats", title="KL(q(z|x) || p(z))")
    axes[0].legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
