"""The NVDM paper's 20 Newsgroups table (Miao et al., 2016, Table 1), one command.

Trains one run per row with ``ppl-vae train`` (or reuses it with ``--reuse``), evaluates each
on the test split, and prints our figure beside the paper's, with the estimator behind each
number: the ELBO bound, importance sampling (IW, ``--samples`` guide samples per document), or
exact. Topic-bearing rows also get their mean NPMI (top 10 words, document co-occurrence in
the training file) and topic diversity. Writes ``table.md``, ``table.json`` and ``table.png``
to ``--out``.

    python examples/nvdm_table.py --data ../shared/data/20news --out runs/table [--reuse]
    python examples/nvdm_table.py --only nvdm-200 docnade-50 --jobs 2   # some rows, 2 at once

Rows that the library does not build yet (fDARN) are listed with the paper's figure and no
figure of ours. The RSM's figure uses ``log Z_N`` by annealed importance sampling
(:mod:`ppl_vae.infer.ais`, 100 runs), raised to importance sampling's estimate where that is
larger (:mod:`ppl_vae.evaluation.partition`). Every figure is per-document perplexity,
``exp(-(1/D) sum_d log p(x_d) / N_d)``, the paper's definition.

**An outside peer.** With scikit-learn installed (``pip install -e ".[bench]"``), the row
``sklearn-lda-50`` fits :class:`sklearn.decomposition.LatentDirichletAllocation` (batch
variational EM, 50 topics, its default priors ``1/K``) on the same training documents. It
reports sklearn's own ``perplexity()`` (a corpus-level per-word variational bound) and our
estimate for its fitted model: ``log p(x)`` by importance sampling over ``theta`` with
sklearn's per-document variational Dirichlet ``q(theta | x)`` as the proposal, through
:func:`ppl_vae.evaluation.evaluate` and our :class:`~ppl_vae.models.LDA` holding its topics.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyro
import torch
from matplotlib.figure import Figure

from ppl_vae.data import load_documents
from ppl_vae.evaluation import evaluate
from ppl_vae.models import LDA
from ppl_vae.runs.report import evaluate_run
from ppl_vae.runs.topics import topic_report
from ppl_vae.training.checkpoint import load_checkpoint


@dataclass(frozen=True)
class Row:
    key: str  # the run directory's name under --out
    label: str
    paper: float | None  # Miao et al.'s Table 1
    argv: tuple[str, ...] | None  # ppl-vae train MODEL [flags]; None: not built
    note: str = ""
    rotate: bool = False  # a Gaussian latent: NPMI after varimax too


ROWS = [
    Row("mixture-50", "Mixture of multinomials-50 (EM)", None, ("mixture", "--k", "50")),
    Row("lda-50", "LDA-50", 1091, ("lda", "--latent-dim", "50")),
    Row("lda-200", "LDA-200", 1058, ("lda", "--latent-dim", "200")),
    Row("rsm-50", "RSM-50", 953, ("rsm", "--hidden", "50", "--persistent")),
    Row("docnade-50", "docNADE-50", 896, ("docnade", "--latent-dim", "50", "--epochs", "40")),
    Row("sbn-50", "SBN-50", 909, ("sbn",)),
    Row("fdarn-50", "fDARN-50", 917, None, "not built yet"),
    Row("nvdm-50", "NVDM-50", 836, ("nvdm",), rotate=True),
    Row(
        "nvdm-200", "NVDM-200", 852, ("nvdm", "--latent-dim", "200", "--epochs", "300"), rotate=True
    ),
]


def train_row(row: Row, args) -> subprocess.Popen | None:
    """Start ``ppl-vae train`` for ``row`` unless its run exists and ``--reuse`` is given."""
    run_dir = Path(args.out) / row.key
    if args.reuse and (run_dir / "best.pt").exists():
        return None
    argv = [sys.executable, "-m", "ppl_vae", "train", *row.argv, "--data", args.data,
            "--out", str(run_dir), "--threads", str(args.threads), "--no-progress",
            "--eval-samples", "0", *(["--overwrite"] if run_dir.exists() else [])]  # fmt: skip
    log = open(Path(args.out) / f"{row.key}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def measure(row: Row, args) -> dict:
    """The row's figures. The evaluation is cached in ``KEY.figures.json``: with ``--reuse``,
    one made after the checkpoint, with the same number of samples, is read back. The topics'
    coherence is quick and always recomputed."""
    run_dir = Path(args.out) / row.key
    cache = Path(args.out) / f"{row.key}.figures.json"
    fresh = cache.exists() and cache.stat().st_mtime > (run_dir / "best.pt").stat().st_mtime
    cached = json.loads(cache.read_text()) if args.reuse and fresh else {}
    if cached.get("iw_samples", -1) in (None, args.samples):
        out = cached
    else:
        out = _evaluate(row, args, run_dir)
        cache.write_text(json.dumps(out, indent=2) + "\n")
    return {**out, **_coherence(row, run_dir)}


def _evaluate(row: Row, args, run_dir: Path) -> dict:
    # the encoder's own q, as the paper's figures are: the refined bound is in the README's
    # NVDM table (ppl-vae evaluate RUN)
    figures = evaluate_run(run_dir, num_samples=args.samples, refine_steps=0).figures
    if figures.get("estimator") == "ais":  # an RBM: log p(x) = -F(x) - log Z_N, Z_N by AIS
        return {
            "row": row.label,
            "paper": row.paper,
            "ppl_doc": figures["ppl_doc_ais"],
            "estimator": f"log Z_N, the larger of AIS ({figures['ais_runs']} runs, "
            f"{figures['ais_temperatures']:,} temperatures) and IS "
            f"({figures['is_samples']:,} samples)",
            "ppl_doc_iw": None,
            "ppl_corpus": figures["ppl_corpus_ais"],
            "iw_samples": args.samples,
            "train_seconds": _train_seconds(run_dir),
            "command": "ppl-vae train " + " ".join(row.argv) + f" --data {args.data} --out RUN",
        }
    exact = bool(figures.get("exact"))
    return {
        "row": row.label,
        "paper": row.paper,
        "ppl_doc": figures["ppl_doc_iw"] if exact else figures["ppl_doc_elbo"],
        "estimator": "exact" if exact else "ELBO bound",
        "ppl_doc_iw": None if exact else figures["ppl_doc_iw"],
        "ppl_corpus": figures["ppl_corpus_iw"],
        "iw_samples": None if exact else args.samples,
        "train_seconds": _train_seconds(run_dir),
        "command": "ppl-vae train " + " ".join(row.argv) + f" --data {args.data} --out RUN",
    }


def _coherence(row: Row, run_dir: Path) -> dict:
    """Mean NPMI and diversity of the row's topics (and after varimax, for a Gaussian latent);
    a note for a model without topics."""
    try:
        topics = topic_report(run_dir, with_coherence=True, rotate=row.rotate).figures
    except Exception as e:  # noqa: BLE001 - a model without topics
        return {"npmi_note": str(e)}
    if not row.rotate:
        return {"mean_npmi": topics["mean_npmi"], "diversity": topics["diversity"]}
    return {
        "mean_npmi": topics["mean_npmi_unrotated"],
        "diversity": topics["diversity_unrotated"],
        "mean_npmi_varimax": topics["mean_npmi"],
        "diversity_varimax": topics["diversity"],
    }


def _train_seconds(run_dir: Path) -> float | None:
    """Seconds of training, from the last checkpoint's state (a mixture's too)."""
    state = load_checkpoint(run_dir / "checkpoint.pt" if (run_dir / "checkpoint.pt").exists()
                            else run_dir / "best.pt")["state"]  # fmt: skip
    return state.get("seconds")


def markdown(results: list[dict]) -> str:
    head = ("| model | paper | ours | estimator | IW | corpus | NPMI | NPMI varimax | diversity "
            "| train s |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    lines = [head]
    for r in results:
        lines.append(
            f"| {r['row']} | {fmt(r.get('paper'), '.0f')} | {fmt(r.get('ppl_doc'), '.1f')} | "
            f"{_estimator(r)} | {fmt(r.get('ppl_doc_iw'), '.1f')} | "
            f"{fmt(r.get('ppl_corpus'), '.1f')} | {fmt(r.get('mean_npmi'), '.3f')} | "
            f"{fmt(r.get('mean_npmi_varimax'), '.3f')} | {fmt(r.get('diversity'), '.2f')} | "
            f"{fmt(r.get('train_seconds'), '.0f')} |"
        )
    return "\n".join(lines) + "\n"


def _estimator(r: dict) -> str:
    text = r.get("estimator", r.get("note", ""))
    if "sklearn_perplexity" in r:
        text += f"; sklearn's perplexity() {r['sklearn_perplexity']:.1f} (corpus, bound)"
    return text


def bar_plot(results: list[dict], path: Path) -> None:
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    labels = [r["row"].split(" (")[0] for r in results]
    xs = range(len(results))
    ax.bar([x - 0.2 for x in xs], [r.get("paper") or 0 for r in results], 0.4, label="paper")
    ax.bar([x + 0.2 for x in xs], [r.get("ppl_doc") or 0 for r in results], 0.4, label="ours")
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set(
        ylabel="test perplexity per document", title="20 Newsgroups (Miao et al., 2016, Table 1)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


class SklearnProposal(torch.nn.Module):
    """A Pyro guide whose ``q(theta | x)`` is a fitted sklearn LDA's variational Dirichlet."""

    has_latent = True

    def __init__(self, lda) -> None:
        super().__init__()
        self.lda = lda

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        gamma = self.lda.transform(x.cpu().numpy(), normalize=False)
        concentration = torch.as_tensor(gamma, dtype=x.dtype).clamp_min(1e-6)
        with pyro.plate("documents", x.shape[0]):
            return pyro.sample("z", pyro.distributions.Dirichlet(concentration))


def sklearn_row(args, topics: int = 50) -> dict:
    """Fit sklearn's LDA on our training split and score it both ways."""
    from scipy.sparse import csr_matrix
    from sklearn.decomposition import LatentDirichletAllocation

    data = load_documents(args.data)
    as_csr = lambda c: csr_matrix((c.counts, c.indices, c.indptr), shape=(len(c), len(c.vocab)))  # noqa: E731
    start = time.monotonic()
    lda = LatentDirichletAllocation(topics, learning_method="batch", max_iter=args.sklearn_iter,
                                    random_state=0, n_jobs=1)  # fmt: skip
    lda.fit(as_csr(data.train))
    seconds = time.monotonic() - start
    model = LDA(len(data.vocab), topics, alpha=lda.doc_topic_prior_)
    with torch.no_grad():
        beta = lda.components_ / lda.components_.sum(1, keepdims=True)
        model.topic_logits.copy_(torch.as_tensor(np.log(beta)))
    ev = evaluate(model, SklearnProposal(lda), data.test, num_samples=args.samples, seed=0)
    return {
        "row": f"sklearn LDA-{topics} (peer, {args.sklearn_iter} EM iterations)",
        "paper": None,
        "ppl_doc": ev.ppl_doc_iw,
        "estimator": f"IW, sklearn's q as proposal ({args.samples} samples)",
        "ppl_doc_iw": ev.ppl_doc_iw,
        "ppl_corpus": ev.ppl_corpus_iw,
        "sklearn_perplexity": float(lda.perplexity(as_csr(data.test))),
        "ppl_doc_elbo_ours": ev.ppl_doc_elbo,
        "train_seconds": seconds,
        "command": "python examples/nvdm_table.py --only sklearn-lda-50",
    }


def main(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in ROWS if not args.only or r.key in args.only]
    start, pending, running = time.monotonic(), [r for r in rows if r.argv], []
    while pending or running:
        while pending and len(running) < args.jobs:
            row = pending.pop(0)
            job = train_row(row, args)
            if job is not None:
                print(f"training {row.key} ...", flush=True)
                running.append((row, job))
        for row, job in list(running):
            if job.poll() is not None:
                running.remove((row, job))
                if job.returncode:
                    raise SystemExit(f"{row.key} failed: see {out / (row.key + '.log')}")
        time.sleep(1)
    results = [measure(r, args) if r.argv else {"row": r.label, "paper": r.paper,
               "note": r.note} for r in rows]  # fmt: skip
    if not args.only or "sklearn-lda-50" in args.only:
        cache = out / "sklearn-lda-50.figures.json"
        try:
            if args.reuse and cache.exists():
                results.append(json.loads(cache.read_text()))
            else:
                results.append(sklearn_row(args))
                cache.write_text(json.dumps(results[-1], indent=2) + "\n")
        except ImportError:
            print("scikit-learn is not installed: no peer row (pip install -e '.[bench]')")
    table = markdown(results)
    print(table)
    print(f"wall time {time.monotonic() - start:.0f} s")
    (out / "table.md").write_text(table)
    (out / "table.json").write_text(json.dumps(results, indent=2) + "\n")
    bar_plot(results, out / "table.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/20news", help="the 20News directory")
    parser.add_argument("--out", default="runs/table", help="where runs and tables go")
    parser.add_argument("--reuse", action="store_true", help="keep runs that exist")
    parser.add_argument("--only", nargs="*", help="row keys (default: every row)")
    parser.add_argument("--samples", type=int, default=100, help="IW samples per document")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--sklearn-iter", type=int, default=50, help="sklearn LDA's EM passes")
    main(parser.parse_args())
