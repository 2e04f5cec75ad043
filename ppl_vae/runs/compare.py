"""Train one model with several guides under the same budget, and compare what each one learns.

This is the design card's "swapping guides for comparisons": every guide trains the same model
with the same seed, data, optimizer and number of epochs, and is then measured on the test split
with the same code:

* perplexity from the ELBO (a bound) and from importance sampling with the guide as proposal;
* KL, active units and mutual information ``I(x; z)`` (He et al., 2019), the latter on the
  analysed items as one batch (so at most ``log analysis_items``);
* the amortization gap (Cremer, Li and Duvenaud, 2018): how much the ELBO of each test item
  rises when ``q`` is replaced by the best diagonal Gaussian for that item alone, found by
  gradient ascent from the guide's own moments (negative when the guide beats every diagonal
  Gaussian, as a flow or a full covariance can);
* the PSIS Pareto ``k`` of the importance weights (Yao, Vehtari, Simpson and Gelman, 2018);
* the variance of the stochastic gradient of the guide's parameters on a fixed batch;
* seconds per training epoch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from pyro import poutine

from ppl_vae.config import TrainConfig
from ppl_vae.evaluation.estimates import evaluate
from ppl_vae.evaluation.gradient_variance import gradient_variance
from ppl_vae.evaluation.information import guide_mutual_information
from ppl_vae.evaluation.plotting import plot_comparison
from ppl_vae.evaluation.posterior import khat_summary, psis_diagnostics
from ppl_vae.infer.objectives import make_objective
from ppl_vae.ops.refinement import gaussian_elbo_per_item, refine_gaussian
from ppl_vae.ops.rng import own_rng
from ppl_vae.ops.traces import data_plate, particle_terms
from ppl_vae.runs import load_run, read_metrics, run_training
from ppl_vae.training import CHECKPOINT, TrainingDiverged
from ppl_vae.training.checkpoint import load_checkpoint

logger = logging.getLogger(__name__)


@dataclass
class GuideComparison:
    """One row of the comparison table (nats per datapoint unless stated)."""

    guide: str
    objective: str
    ppl_doc_elbo: float
    ppl_doc_iw: float
    ppl_corpus_elbo: float
    ppl_corpus_iw: float
    elbo: float
    nll_iw: float
    kl: float
    active_units: int
    mutual_information: float
    amortization_gap: float  # mean over analysed items of ELBO(best diagonal q) - ELBO(guide)
    khat_share_above_07: float
    khat_median: float
    khat_max: float
    grad_variance: float  # mean per-coordinate variance of the guide's gradient
    seconds_per_epoch: float
    epochs: int
    status: str = "completed"  # or "diverged at epoch N": measured at its best checkpoint


def amortization_gap(
    model,
    guide,
    args: tuple,
    steps: int = 100,
    step_size: float = 0.05,
    samples: int = 32,
    log_weights: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item ELBO of ``guide`` and of the best diagonal Gaussian for each item alone.

    The per-item optimum starts from the mean and log standard deviation of ``samples`` draws
    of the guide (exact for a diagonal Gaussian guide), then takes ``steps`` Adam steps on that
    item's ELBO (:func:`ppl_vae.ops.refinement.refine_gaussian`). Both ELBOs are averaged over 64
    single-sample estimates (one at a time, as an LSTM decoder takes no extra sample
    dimension), so their difference is the gap up to Monte Carlo noise. ``log_weights``, an
    ``(S, batch)`` draw of ``log p(x, z) - log q(z | x)`` already at hand, replaces the 64
    draws behind the guide's ELBO.
    """
    with torch.no_grad(), poutine.block():
        traces = [poutine.trace(guide).get_trace(*args) for _ in range(samples)]
        draws = torch.stack([t.nodes["z"]["value"] for t in traces])
        if log_weights is None:
            log_weights = torch.stack(
                [particle_terms(model, guide, *args).log_weight for _ in range(64)]
            )
        plate = data_plate(poutine.trace(model).get_trace(*args))[0]
    loc, log_scale = draws.mean(0), draws.std(0).clamp(min=1e-4).log()
    loc, log_scale = refine_gaussian(
        model, args, loc, log_scale, steps=steps, step_size=step_size, optimizer="adam", plate=plate
    )
    with torch.no_grad(), poutine.block():
        best = torch.stack(
            [
                gaussian_elbo_per_item(model, args, loc.detach(), log_scale.detach(), plate=plate)
                for _ in range(64)
            ]
        ).mean(0)
    return log_weights.mean(0).numpy(), best.double().cpu().numpy()


def _first_items(corpus, n: int, device) -> tuple:
    """Model arguments for the first ``n`` items of ``corpus`` (one batch)."""
    return tuple(corpus.make_batch(np.arange(min(n, len(corpus))), device))


def _seconds_per_epoch(history: list[dict]) -> float:
    return history[-1]["seconds"] / history[-1]["epoch"] if history else float("nan")


@dataclass
class Measurements:
    """How much each comparison row measures."""

    eval_samples: int = 100  # importance samples per test item, for perplexity
    analysis_items: int = 200  # test items for the amortization gap and PSIS k-hat
    gap_steps: int = 100  # Adam steps of the per-item optimization behind the gap
    grad_estimates: int = 20  # gradient estimates on one batch, for the gradient variance
    psis_samples: int = 200  # guide samples per analysed item for k-hat (100+ to be usable)


def guide_overrides(configs: dict[str, TrainConfig]) -> dict[str, dict]:
    """What each guide's config sets differently from the others' (objective, sizes, clipping),
    as ``compare_guides``'s ``overrides``."""
    return {
        g: {"objective": c.objective, "guide_kwargs": c.guide_kwargs, "clip_norm": c.clip_norm}
        for g, c in configs.items()
    }


def compare_guides(
    base: TrainConfig,
    guides: Sequence[str],
    data,
    out_dir: str | Path,
    overrides: dict[str, dict] | None = None,
    progress: bool = False,
    reuse: bool = False,
    **measurements: int,
) -> list[GuideComparison]:
    """Train ``base.model`` once per guide in ``guides`` and measure each on ``data.test``.

    Each guide trains in ``out_dir/<guide>/`` with ``base`` (same seed, data and budget) and
    the fields of ``overrides[guide]``, e.g. ``{"score-function": {"objective": "nvil",
    "clip_norm": 10.0}}`` for what a guide needs. ``measurements`` are the fields of
    :class:`Measurements`: perplexities use ``eval_samples`` importance samples per test item;
    the PSIS ``k`` (from ``psis_samples`` samples, at least 100 for a usable ``k``) and the
    amortization gap use the first ``analysis_items`` test items. Writes ``comparison.json``,
    ``comparison.md`` and ``curves.png`` to ``out_dir``, and each guide's row to
    ``out_dir/<guide>/comparison.json``.

    With ``reuse``, a guide whose run directory holds a checkpoint of the same configuration
    resumes it (a finished run is not retrained), and a finished row is not measured again:
    an interrupted comparison continues where it stopped.
    """
    measure = Measurements(**measurements)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    overrides = overrides or {}
    device = torch.device(base.device)
    rows, histories = [], {}
    for name in guides:
        config = replace(base, guide=name, **overrides.get(name, {}))
        run_dir = out_dir / name
        same = reuse and _same_config(run_dir, replace(config, data=data.source))
        row_file = run_dir / "comparison.json"
        logger.info("training %s with guide %s (%s)", config.model, name, config.objective)
        status = "completed"
        try:
            extend = {"epochs": config.epochs} if same else None
            run_training(config, run_dir, resume=same, progress=progress, data=data,
                         overrides=extend, overwrite=not same)  # fmt: skip
        except TrainingDiverged as e:  # keep the comparison going: its best checkpoint stands
            logger.warning("guide %s diverged: %s", name, e)
            status = f"diverged at epoch {len(read_metrics(run_dir)) + 1}"
        histories[name] = read_metrics(run_dir)
        if same and row_file.exists():
            saved = GuideComparison(**json.loads(row_file.read_text()))
            if histories[name] and saved.epochs == histories[name][-1]["epoch"]:
                rows.append(saved)  # measured after the same training
                continue
        rows.append(measure_guide(out_dir / name, data, measure, histories[name], device, progress))
        rows[-1].status = status
        row_file.write_text(json.dumps(asdict(rows[-1]), indent=2) + "\n")
        logger.info("%s: %s", name, rows[-1])
    write_comparison(rows, histories, out_dir)
    return rows


def _same_config(run_dir: Path, config: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a checkpoint of a run with this configuration."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return False
    saved = load_checkpoint(path)["config"]
    wanted = json.loads(json.dumps(config.to_dict()))
    if wanted.get("sparse_input") is None:  # "measure it": the run's measured answer will do
        wanted["sparse_input"] = saved.get("sparse_input")
    # the budget may be extended, as with ``--resume --epochs``
    return {**saved, "epochs": config.epochs} == wanted


def measure_guide(
    run_dir: Path,
    data,
    measure: Measurements,
    history: list[dict],
    device: torch.device,
    progress: bool = False,
) -> GuideComparison:
    """The comparison row of one trained run."""
    run = load_run(run_dir, device=device)
    model, guide, config = run.model, run.guide, run.config
    with own_rng(config.seed):  # seeded draws, without reseeding the caller's RNG
        m = measure
        ev = evaluate(model, guide, data.test, m.eval_samples, device=device, progress=progress)
        args = _first_items(data.test, m.analysis_items, device)
        mi = guide_mutual_information(guide, [(args, None)])
        with torch.no_grad(), poutine.block():
            log_w = torch.stack(
                [particle_terms(model, guide, *args).log_weight for _ in range(m.psis_samples)]
            )
        khat = khat_summary(psis_diagnostics(log_w.numpy())[1])
        # the PSIS draws give the guide's ELBO on these items too
        amortized, best = amortization_gap(model, guide, args, steps=m.gap_steps, log_weights=log_w)

        train_args = _first_items(data.train, config.batch_size, device)
        objective = make_objective(config.objective, config.num_particles, config.free_bits)
        model.train()
        guide.train()
        variance = gradient_variance(model, guide, objective, train_args, m.grad_estimates)
        model.eval()
        guide.eval()
    shared = {f.name for f in fields(GuideComparison)} & set(ev.to_dict())
    return GuideComparison(
        guide=config.guide,
        objective=config.objective,
        **{k: getattr(ev, k) for k in shared},
        mutual_information=mi,
        amortization_gap=float(np.mean(best - amortized)),
        khat_share_above_07=khat["share_gt_0.7"],
        khat_median=khat["median"],
        khat_max=khat["max"],
        grad_variance=variance["mean_variance"],
        seconds_per_epoch=_seconds_per_epoch(history),
        epochs=history[-1]["epoch"] if history else 0,
    )


COLUMNS = [
    ("guide", "guide", "{}"),
    ("objective", "objective", "{}"),
    ("ppl_doc_elbo", "ppl/doc ELBO", "{:.1f}"),
    ("ppl_doc_iw", "ppl/doc IW", "{:.1f}"),
    ("ppl_corpus_elbo", "ppl corpus ELBO", "{:.1f}"),
    ("ppl_corpus_iw", "ppl corpus IW", "{:.1f}"),
    ("kl", "KL", "{:.2f}"),
    ("active_units", "AU", "{}"),
    ("mutual_information", "MI", "{:.2f}"),
    ("amortization_gap", "amort. gap", "{:.2f}"),
    ("khat_share_above_07", "k̂>0.7", "{:.0%}"),
    ("khat_median", "k̂ median", "{:.2f}"),
    ("grad_variance", "grad var", "{:.3g}"),
    ("seconds_per_epoch", "s/epoch", "{:.2f}"),
    ("status", "training", "{}"),
]


def comparison_markdown(rows: Sequence[GuideComparison]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        d = asdict(row)
        lines.append("| " + " | ".join(fmt.format(d[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(
    rows: Sequence[GuideComparison], histories: dict[str, list[dict]], out_dir: Path
) -> None:
    out_dir = Path(out_dir)
    (out_dir / "comparison.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    (out_dir / "comparison.md").write_text(comparison_markdown(rows))
    plot_comparison(histories, out_dir / "curves.png")
