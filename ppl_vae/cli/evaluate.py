"""``ppl-vae evaluate`` and ``ppl-vae topics``: read a trained run."""

from __future__ import annotations

import argparse
import json

from ppl_vae.cli.options import add_common, add_threads, join_job
from ppl_vae.runs.report import evaluate_run
from ppl_vae.runs.topics import topic_report


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
    ev.add_argument(
        "--refine",
        type=int,
        default=None,
        metavar="STEPS",
        help="refine each document's q by STEPS Adam steps on its own ELBO before estimating "
        "(NVDM with a diagonal guide; default 50 there, 0 elsewhere; 0 reports the encoder's q)",
    )
    ev.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="WORDS",
        help="cut the split's sentences to WORDS words (sentence runs; default: score every "
        "sentence whole). The output and its JSON say so",
    )
    ev.add_argument(
        "--partition",
        default="auto",
        choices=["auto", "exact", "ais"],
        help="Replicated Softmax runs: log Z_N by enumeration (exact), by annealed importance "
        "sampling (ais), or exact for at most 16 hidden units and AIS above (auto, the default)",
    )
    ev.add_argument("--ais-runs", type=int, default=None, help="AIS runs (default 100)")
    ev.add_argument(
        "--ais-steps",
        type=int,
        default=None,
        help="AIS temperatures for the first word; the word after N gets STEPS/N (default 1000)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--seed", type=int, default=0, help="seed for the guide's samples (default 0)")
    add_common(ev)
    ev.set_defaults(run=run_evaluate)

    tp = sub.add_parser(
        "topics",
        help="top words along each latent dimension, and their coherence",
        description="Print the words each latent dimension raises most; with --coherence, each "
        "topic's NPMI, their mean and the topic diversity.",
    )
    tp.add_argument("run_dir", help="a run directory written by 'ppl-vae train'")
    tp.add_argument("--k", type=int, default=10, help="words shown per dimension (default 10)")
    tp.add_argument(
        "--dims", type=int, default=None, help="show only this many dimensions (default: all)"
    )
    tp.add_argument(
        "--poles", action="store_true", help="both poles of each direction: z[k]+ and z[k]-"
    )
    tp.add_argument(
        "--rotate",
        action="store_true",
        help="read the directions after a varimax rotation (Gaussian latents; p(x) unchanged)",
    )
    tp.add_argument(
        "--coherence",
        action="store_true",
        help="NPMI of each topic (document co-occurrence), mean NPMI and topic diversity",
    )
    tp.add_argument(
        "--reference",
        default=None,
        help="corpus directory for NPMI's probabilities (default: the run's corpus, train file)",
    )
    tp.add_argument("--top", type=int, default=10, help="top words scored by NPMI (default 10)")
    tp.add_argument("--json", action="store_true", help="print JSON")
    add_threads(tp)
    tp.set_defaults(run=run_topics_command)


def run_evaluate(args: argparse.Namespace) -> int:
    join_job(args)  # under torchrun: the items are shared out over the ranks
    report = evaluate_run(
        args.run_dir,
        args.data,
        args.split,
        args.samples,
        args.device,
        progress=not args.no_progress and not args.json,
        which=args.checkpoint,
        seed=args.seed,
        refine_steps=args.refine,
        eval_max_length=args.max_length,
        partition=args.partition,
        ais_runs=args.ais_runs,
        ais_steps=args.ais_steps,
    )
    print(json.dumps(report.figures) if args.json else report.text)
    return 0


def run_topics_command(args: argparse.Namespace) -> int:
    report = topic_report(args.run_dir, args.k, args.dims, args.poles, args.rotate,
                          args.coherence, args.reference, args.top)  # fmt: skip
    print(json.dumps(report.figures) if args.json else report.text)
    return 0
