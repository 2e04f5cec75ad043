"""``ppl-vae train``: train a model into a run directory, then evaluate it on test."""

from __future__ import annotations

import argparse
import signal

from ppl_vae.cli.options import UsageError, add_common, config_from_args, join_job
from ppl_vae.runs import load_data, run_training
from ppl_vae.runs.mixture import MIXTURE, train_mixture
from ppl_vae.runs.presets import eval_samples
from ppl_vae.runs.registry import GUIDE_CLASSES, MODELS
from ppl_vae.runs.report import evaluate_run
from ppl_vae.runs.run import load_document_source


def add_parser(sub, options: argparse.ArgumentParser) -> None:
    tr = sub.add_parser(
        "train",
        parents=[options],
        help="train a model by SVI",
        description="Train a model and guide, then evaluate on test.",
    )
    tr.add_argument(
        "model",
        choices=sorted([*MODELS, MIXTURE]),
        help="the generative model: nvdm (Gaussian latent), sbn (binary latent units), "
        "mixture (mixture of multinomials), lda, docnade, rsm (Replicated Softmax RBM, trained "
        "by contrastive divergence), sentence-vae (Bowman et al.'s LSTM VAE), sentence-ae (its "
        "deterministic autoencoder), or rnnlm (its decoder without a latent variable)",
    )
    tr.add_argument("--out", required=True, help="run directory for checkpoints and logs")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, exactly (its saved config and "
        "budget are used; --epochs, --lr, --lr-drop and --patience change them)",
    )
    tr.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (without it, train refuses to touch one)",
    )
    tr.add_argument(
        "--guide",
        default=None,
        choices=sorted(GUIDE_CLASSES),
        help="the inference network (default: the model's; diagonal for nvdm, bernoulli for "
        "sbn, lstm for sentence-vae)",
    )
    tr.add_argument(
        "--eval-samples",
        type=int,
        default=None,
        help="importance samples for the final test evaluation; 0 skips it (default 100 for "
        "document models, 10 for sentence models: run 'ppl-vae evaluate RUN --samples 100' "
        "for more)",
    )
    tr.add_argument(
        "--topics", type=int, default=10, help="show the top words of this many latent "
        "dimensions (default 10)"
    )  # fmt: skip
    mix = tr.add_argument_group("mixture of multinomials (--epochs, --batch-size, --lr: svi)")
    mix.add_argument(
        "--algorithm",
        default="em",
        choices=["em", "svi"],
        help="exact EM, or SVI with the class enumerated (TraceEnum_ELBO) (default em)",
    )
    mix.add_argument(
        "--k", type=int, default=None, help="number of classes K (default 20); for lda, topics"
    )
    mix.add_argument("--restarts", type=int, default=None, help="random restarts (default 3)")
    mix.add_argument(
        "--iterations", type=int, default=None, help="most EM iterations per restart (200)"
    )
    mix.add_argument(
        "--beta-concentration",
        type=float,
        default=None,
        help="Dirichlet prior on each class's words; 2 = add-one smoothing (default 2)",
    )
    add_common(tr)
    tr.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.model == MIXTURE:
        return run_mixture(args)
    if args.k is not None:  # the number of classes (mixture) is LDA's number of topics
        if args.model != "lda":
            raise UsageError(f"--k is a mixture's classes or LDA's topics; {args.model} takes "
                             "--latent-dim")  # fmt: skip
        if args.latent_dim not in (None, args.k):
            raise UsageError("give LDA's number of topics once: --k or --latent-dim")
        args.latent_dim = args.k
    config = config_from_args(args, args.model, args.guide)
    join_job(args)  # under torchrun: every rank trains and evaluates, rank 0 speaks
    data = None
    if not args.resume or args.data:
        data = load_data(config, args.data or "synthetic", valid_fraction=args.valid_fraction,
                         max_vocab=args.max_vocab, max_length=args.max_length,
                         unk_tokens=args.unk_token or ())  # fmt: skip
    given = {"epochs": args.epochs, "lr": args.lr, "lr_drop": args.lr_drop,
             "patience": args.patience}  # fmt: skip
    overrides = {k: v for k, v in given.items() if v is not None} if args.resume else None
    expect = {"model": args.model, **({"guide": args.guide} if args.guide else {})}
    result = run_training(config, args.out, resume=args.resume, progress=not args.no_progress,
                          data=data, overrides=overrides, overwrite=args.overwrite,
                          expect=expect)  # fmt: skip
    s = result.state
    print(
        f"{result.status} after {s.epoch} epochs ({s.step} steps, {s.seconds:.1f} s training); "
        f"run directory {args.out}"
    )
    if result.status == "interrupted":
        print(
            f"interrupted: checkpoint saved; continue with: ppl-vae train {args.model} "
            f"--out {args.out} --resume"
        )
        return 128 + (result.signum or signal.SIGINT)
    return report(args)


def report(args: argparse.Namespace) -> int:
    samples = args.eval_samples
    if samples is None:
        samples = eval_samples(args.model) if args.model != MIXTURE else 1
    if samples > 0:
        progress = not args.no_progress
        done = evaluate_run(args.out, None, "test", samples, args.device, args.topics,
                            progress, seed=args.seed or 0)  # fmt: skip
        print(done.text)
        estimated = not (done.figures.get("exact") or done.figures.get("reconstruction"))
        if args.eval_samples is None and samples < 100 and estimated:
            print(
                f"(importance-sampled with {samples} samples, to finish in minutes; "
                f"'ppl-vae evaluate {args.out} --samples 100' tightens the estimate)"
            )
    return 0


def run_mixture(args: argparse.Namespace) -> int:
    if args.resume:
        raise UsageError("mixture runs take seconds to minutes; --resume is not supported")
    seed = args.seed or 0
    data = load_document_source(args.data, valid_fraction=0.0, seed=seed, max_vocab=args.max_vocab)
    given = {"num_components": args.k, "beta_concentration": args.beta_concentration,
             "restarts": args.restarts, "iterations": args.iterations, "epochs": args.epochs,
             "batch_size": args.batch_size, "lr": args.lr}  # fmt: skip
    kwargs = {k: v for k, v in given.items() if v is not None}
    fit = train_mixture(data, args.out, args.algorithm, seed=seed,
                        progress=not args.no_progress, **kwargs)  # fmt: skip
    unit = "iterations" if args.algorithm == "em" else "epochs"
    print(
        f"fitted a mixture of {fit.num_components} multinomials by {args.algorithm} "
        f"({fit.iterations} {unit}, {fit.seconds:.1f} s); run directory {args.out}"
    )
    return report(args)
