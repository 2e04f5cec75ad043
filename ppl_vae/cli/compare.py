"""``ppl-vae compare``: train one model with several guides and compare them."""

from __future__ import annotations

import argparse
from dataclasses import fields

from ppl_vae.cli.options import add_common, config_from_args
from ppl_vae.runs import load_data
from ppl_vae.runs.compare import (
    Measurements,
    compare_guides,
    comparison_markdown,
    guide_overrides,
)

#: the models ``compare`` offers, by their names on the command line
MODELS = {"nvdm": "nvdm", "sbn": "sbn", "sentence": "sentence-vae"}


def add_parser(sub, options: argparse.ArgumentParser) -> None:
    cp = sub.add_parser(
        "compare",
        parents=[options],
        help="train one model with several guides and compare them",
        description="Train the model once per guide with the same seed, data and budget, then "
        "write a table (comparison.md, comparison.json) of ELBO and importance-sampled "
        "perplexity, KL, active units, mutual information, amortization gap, PSIS k-hat, "
        "gradient variance and seconds per epoch, and curves.png with one line per guide.",
    )
    cp.add_argument(
        "--model",
        default="nvdm",
        choices=sorted(MODELS),
        help="nvdm (documents), sbn, or sentence (Bowman et al.'s sentence VAE) (default nvdm)",
    )
    cp.add_argument(
        "--guides",
        type=lambda t: [g.strip() for g in t.split(",") if g.strip()],
        required=True,
        help="comma-separated guide names, e.g. diagonal,full-covariance,iaf",
    )
    cp.add_argument("--out", required=True, help="directory for the runs and the table")
    defaults = Measurements()
    for flag, dest, text in [
        ("--samples", "eval_samples", "importance samples per test item for perplexity"),
        ("--psis-samples", "psis_samples", "guide samples per analysed item for PSIS k-hat"),
        ("--analysis-items", "analysis_items", "test items for the amortization gap and k-hat"),
        ("--gap-steps", "gap_steps", "Adam steps of the per-item optimization behind the gap"),
        ("--grad-estimates", "grad_estimates", "gradient estimates for the gradient variance"),
    ]:
        default = getattr(defaults, dest)
        cp.add_argument(flag, dest=dest, type=int, default=default,
                        help=f"{text} (default {default})")  # fmt: skip
    cp.add_argument(
        "--reuse",
        action="store_true",
        help="continue an interrupted comparison: resume each guide's run in --out if its "
        "configuration matches, and keep rows already measured",
    )
    add_common(cp)
    cp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = MODELS[args.model]
    configs = {name: config_from_args(args, model, name) for name in args.guides}
    base = configs[args.guides[0]]
    data = load_data(base, args.data or "synthetic", valid_fraction=args.valid_fraction,
                     max_vocab=args.max_vocab, max_length=args.max_length,
                         unk_tokens=args.unk_token or ())  # fmt: skip
    overrides = guide_overrides(configs)
    measure = {f.name: getattr(args, f.name) for f in fields(Measurements)}
    rows = compare_guides(base, args.guides, data, args.out, overrides,
                          not args.no_progress, args.reuse, **measure)  # fmt: skip
    print(comparison_markdown(rows), end="")
    print(f"wrote {args.out}/comparison.md, comparison.json and curves.png")
    return 0
