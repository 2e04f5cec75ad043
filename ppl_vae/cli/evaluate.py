"""``ppl-vae evaluate`` and ``ppl-vae topics``: read a trained run."""

from __future__ import annotations

import argparse
import json

from ppl_vae.cli.options import add_common
from ppl_vae.runs.report import evaluate_run, run_topics


def add_parsers(sub) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="perplexity, KL and active units of a trained run",
        description="Evaluate a run's best checkpoint on a split.",
    )
    ev.add_argument("run_dir", help="a run directory written by 'ppl-vae train'")
    ev.add_argument(
        "--data", default=None, help="corpus directory (default: the corpus the run was trained on)"
    )
    ev.add_argument(
        "--split", default="test", choices=["train", "valid", "test"], help="which split (test)"
    )
    ev.add_argument(
        "--samples", type=int, default=100, help="importance samples per document (default 100)"
    )
    ev.add_argument(
        "--checkpoint",
        default="best",
        choices=["best", "last"],
        help="best validation checkpoint or the last one (default best)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--seed", type=int, default=0, help="seed for the guide's samples (default 0)")
    add_common(ev)
    ev.set_defaults(run=run_evaluate)

    tp = sub.add_parser(
        "topics",
        help="top words along each latent dimension",
        description="Print the words each latent dimension raises most.",
    )
    tp.add_argument("run_dir", help="a run directory written by 'ppl-vae train'")
    tp.add_argument("--k", type=int, default=10, help="words per dimension (default 10)")
    tp.add_argument(
        "--dims", type=int, default=None, help="show only this many dimensions (default: all)"
    )
    tp.add_argument("--json", action="store_true", help="print JSON")
    tp.set_defaults(run=run_topics_command)


def run_evaluate(args: argparse.Namespace) -> int:
    report = evaluate_run(
        args.run_dir,
        args.data,
        args.split,
        args.samples,
        args.device,
        progress=not args.no_progress and not args.json,
        which=args.checkpoint,
        seed=args.seed,
    )
    print(json.dumps(report.figures) if args.json else report.text)
    return 0


def run_topics_command(args: argparse.Namespace) -> int:
    topics = run_topics(args.run_dir, args.k, args.dims)
    if args.json:
        print(json.dumps({str(d): words for d, words in topics.items()}))
    else:
        print("\n".join(f"  z[{d:>2}]  {' '.join(words)}" for d, words in topics.items()))
    return 0
