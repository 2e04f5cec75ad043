"""Check a trained NVDM's guide against importance weights (PSIS) and NUTS, with ArviZ.

    ppl-vae train nvdm --out runs/nvdm_synth --epochs 20
    python examples/posterior_analysis.py runs/nvdm_synth
    python examples/posterior_analysis.py runs/nvdm_synth --samples 100 --nuts-samples 100 \\
        --warmup 100 --psis-docs 50                         # a quick look
    python examples/posterior_analysis.py runs/compare-20news/*/   # one row per guide

For many test documents it fits a Pareto tail to the importance weights of q(z | x) (k-hat:
below 0.5 the guide is a good proposal, above 0.7 importance-sampled estimates are unreliable;
Yao et al., 2018); for a few, it samples the true posterior p(z | x) of the trained decoder with
NUTS and reports how far the guide's means and standard deviations are from it. Needs ArviZ
(``pip install ppl-vae[analysis]``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from ppl_vae.data import load_documents
from ppl_vae.evaluation.posterior import (
    compare_to_reference,
    khat_summary,
    log_weights,
    nuts_reference,
    pair_plot,
    psis_diagnostics,
    reference_summary,
    to_inference_data,
)
from ppl_vae.runs import check_vocab, load_run
from ppl_vae.runs.registry import SENTENCE_MODELS


def load_data(args, run_dir):
    """The trained run and its test documents."""
    run = load_run(run_dir)
    if run.config.model in SENTENCE_MODELS:
        raise SystemExit(f"{run_dir} is a sentence model; this example is for documents")
    data = load_documents(args.data or run.config.data, seed=run.config.seed)
    check_vocab(run.vocab, run.path, data.vocab, str(args.data or "the run's corpus"))
    return run, data.test


def run_inference(args, run, test):
    rng = np.random.default_rng(args.seed)
    psis_docs = np.sort(rng.choice(len(test), min(args.psis_docs, len(test)), replace=False))
    nuts_docs = psis_docs[: args.nuts_docs]

    # q(z | x) and its importance weights for many documents
    q_all = to_inference_data(
        run.model,
        run.guide,
        test.make_batch(psis_docs),
        num_samples=args.samples,
        seed=args.seed,
        coords={"doc": psis_docs},
    )
    _, khat = psis_diagnostics(log_weights(q_all))

    # the true posterior of a few, with the decoder fixed
    nuts = nuts_reference(
        run.model,
        test.make_batch(nuts_docs),
        num_samples=args.nuts_samples,
        warmup=args.warmup,
        num_chains=args.chains,
        seed=args.seed,
        coords={"doc": nuts_docs},
    )
    q = q_all.isel(doc=slice(0, len(nuts_docs)))
    return {
        "q": q,
        "nuts": nuts,
        "khat": khat,
        "khat_docs": psis_docs,
        "comparison": compare_to_reference(q, nuts),
        "summary": reference_summary(nuts),
    }


def plot(args, result, path):
    comparison = result["comparison"]
    doc = comparison["doc"][0]
    if args.dims:
        dims = [int(d) for d in args.dims.split(",")]
    else:  # the dimensions where the guide's mean is furthest from NUTS's, in NUTS sds
        sd = result["nuts"].posterior["z"].sel(doc=doc).std(("chain", "draw")).values
        dims = sorted(np.argsort(-comparison["abs_error_mean"][0] / sd)[:3].tolist())
    return pair_plot(result["nuts"], result["q"], doc=doc, dims=dims, path=path)


def analyse(args, run_dir, out: Path) -> dict:
    """Print the analysis of one run, save its files under ``out``, return its summary row."""
    out.mkdir(parents=True, exist_ok=True)
    run, test = load_data(args, run_dir)
    print(f"{run.path}: {run.config.model} with K={run.config.latent_dim}, {len(test)} test docs")
    result = run_inference(args, run, test)

    khat = result["khat"]
    s = khat_summary(khat, num_samples=args.samples)
    print(
        f"PSIS k-hat of q(z|x) over {s['documents']} test documents ({args.samples} draws): "
        f"median {s['median']:.2f}, max {s['max']:.2f}; k <= 0.5 {100 * s['share_le_0.5']:.0f}%,"
        f" 0.5 < k <= 0.7 {100 * s['share_0.5_0.7']:.0f}%, k > 0.7 {100 * s['share_gt_0.7']:.0f}%"
    )
    c = result["comparison"]
    print(f"guide vs NUTS on documents {c['doc'].tolist()} ({c['latent_dim']} dimensions each):")
    print(
        f"  mean |error| of posterior means {c['mean_abs_error_mean']:.3f} "
        f"({c['mean_rel_error_mean']:.2f} NUTS sds; Monte Carlo noise alone "
        f"~{c['noise_rel_mean']:.2f})"
    )
    print(
        f"  mean |error| of posterior sds   {c['mean_abs_error_sd']:.3f} "
        f"({c['mean_rel_error_sd']:.2f} NUTS sds); mean sd_q / sd_nuts {c['mean_sd_ratio']:.2f}"
    )
    for i, doc in enumerate(c["doc"]):
        print(
            f"  doc {doc:5d}: k-hat {khat[i]:5.2f}, mean |error| of means "
            f"{c['abs_error_mean'][i].mean():.3f}, of sds {c['abs_error_sd'][i].mean():.3f}"
        )
    summary = result["summary"]
    diverging = int(result["nuts"].sample_stats["diverging"].values.sum())
    print(
        f"NUTS: max r_hat {summary['r_hat'].max():.3f}, min ess_bulk "
        f"{summary['ess_bulk'].min():.0f}, {diverging} divergences"
    )

    result["q"].to_netcdf(str(out / "guide.nc"))
    result["nuts"].to_netcdf(str(out / "nuts.nc"))
    path = plot(args, result, out / "pair.png")
    print(f"saved {out / 'guide.nc'}, {out / 'nuts.nc'} and {path}\n")
    return {
        "run": f"{run.config.guide} ({Path(run_dir).name})",
        "khat>0.7": f"{100 * s['share_gt_0.7']:.0f}%",
        "k-hat median": f"{s['median']:.2f}",
        "error of means (NUTS sds)": f"{c['mean_rel_error_mean']:.2f}",
        "error of sds (NUTS sds)": f"{c['mean_rel_error_sd']:.2f}",
        "sd_q / sd_nuts": f"{c['mean_sd_ratio']:.2f}",
        "NUTS max r_hat": f"{summary['r_hat'].max():.3f}",
        "NUTS min ESS": f"{summary['ess_bulk'].min():.0f}",
    }


def main(args):
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    several = len(args.run_dirs) > 1
    rows = [analyse(args, d, out / Path(d).name if several else out) for d in args.run_dirs]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "|".join("---" for _ in keys) + "|")
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "run_dirs", nargs="+", help="run directories written by `ppl-vae train nvdm` (or compare)"
    )
    parser.add_argument("--data", default=None, help="corpus directory (default: the run's)")
    parser.add_argument("--psis-docs", type=int, default=200, help="test documents for k-hat")
    parser.add_argument("--samples", type=int, default=500, help="draws of q(z|x) per document")
    parser.add_argument("--nuts-docs", type=int, default=3, help="documents sampled by NUTS")
    parser.add_argument("--nuts-samples", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2, help="NUTS chains, run one by one")
    parser.add_argument("--dims", default=None, help="latent dims to plot, e.g. 0,1,2")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="posterior_analysis", help="output directory")
    main(parser.parse_args())
