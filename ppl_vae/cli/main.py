"""The ``ppl-vae`` command: a thin layer over :mod:`ppl_vae.runs` and :mod:`ppl_vae.evaluation`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence

import numpy as np
import pyro
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.data import SYNTHETIC, DataError, load_documents
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.evaluation.estimates import evaluate
from ppl_vae.evaluation.information import guide_mutual_information
from ppl_vae.evaluation.report import evaluation_table, recovery_report, topics_table
from ppl_vae.evaluation.topics import dimensions_by_activity
from ppl_vae.infer.objectives import ANNEALABLE, ELBO_CLIMBING, OBJECTIVES
from ppl_vae.ops.annealing import SCHEDULES
from ppl_vae.ops.metrics import perplexity_corpus
from ppl_vae.runs import check_vocab, load_run, run_training
from ppl_vae.runs.mixture import (
    MIXTURE,
    evaluate_mixture,
    is_mixture_run,
    load_mixture,
    train_mixture,
)
from ppl_vae.runs.registry import (
    DEFAULT_GUIDE,
    DEFAULT_OBJECTIVE,
    GUIDE_CLIP_NORM,
    GUIDE_OBJECTIVE,
    GUIDES,
    MODELS,
    SENTENCE_MODELS,
    check_combination,
)
from ppl_vae.training import TrainingDiverged
from ppl_vae.training.checkpoint import CheckpointError

logger = logging.getLogger("ppl_vae")


DEFAULT_WEIGHT_DECAY = {"nvdm": 0.05}  # test ELBO perplexity 830 and 828 (seeds 0, 1) against 835
COMPARE_MODELS = {"nvdm": "nvdm", "sbn": "sbn", "sentence": "sentence-vae"}


class UsageError(ValueError):
    """A combination of flags that cannot work."""


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default=_default_device(),
        choices=["cpu", "cuda"],
        help="where to run (default: cuda when available, else cpu)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice; use 1 beside other busy jobs)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every epoch")


def _training_options() -> argparse.ArgumentParser:
    """The flags shared by ``train`` and ``compare``: data, sizes, objective and budget."""
    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument(
        "--data",
        default=None,
        help="corpus directory (NVDM .feat + vocab.new, or train/test .txt); "
        "default: the embedded synthetic corpus",
    )
    opts.add_argument(
        "--latent-dim",
        type=int,
        default=None,
        help="latent dimension K (default 50; 13 for sentence-vae, as Bowman et al.)",
    )
    opts.add_argument(
        "--hidden",
        type=_sizes,
        default=(500, 500),
        help="encoder hidden sizes, comma-separated (default 500,500)",
    )
    opts.add_argument(
        "--encoder-dropout",
        type=float,
        default=0.0,
        help="dropout after each encoder hidden layer of nvdm and sbn, in training only "
        "(default 0)",
    )
    opts.add_argument(
        "--objective",
        default=None,
        choices=OBJECTIVES,
        help="trace = Trace_ELBO; meanfield = TraceMeanField_ELBO with analytic KL (default for "
        "nvdm); nvil = TraceGraph_ELBO with the guide's learned baseline (default for sbn); "
        "wake-sleep; rws = reweighted wake-sleep",
    )
    opts.add_argument(
        "--particles",
        type=int,
        default=1,
        help="ELBO particles per step, or K for rws (default 1; rws uses at least 2)",
    )
    opts.add_argument(
        "--free-bits",
        type=float,
        default=0.5,
        help="nats per latent dimension below which the KL stops pushing, for --objective "
        "free-bits (default 0.5)",
    )
    opts.add_argument(
        "--anneal",
        default="constant",
        choices=SCHEDULES,
        help="KL weight schedule (default constant)",
    )
    opts.add_argument(
        "--beta",
        type=float,
        default=1.0,
        help="constant KL weight, or the final weight of a schedule (default 1; 0 "
        "trains an autoencoder)",
    )
    opts.add_argument(
        "--beta-start",
        type=float,
        default=0.0,
        help="first KL weight of the linear and cyclical schedules (default 0)",
    )
    opts.add_argument(
        "--anneal-epochs",
        type=float,
        default=10.0,
        help="warm-up (or cycle) length in epochs for non-constant schedules (default 10)",
    )
    opts.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="maximum epochs (default: 150 on a corpus directory, 40 on the synthetic corpus)",
    )
    opts.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="documents per step (default 64; 500 for mixture --algorithm svi)",
    )
    opts.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    opts.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        help="multiply the learning rate by this after each epoch (default 0.99)",
    )
    opts.add_argument(
        "--lr-drop",
        type=float,
        default=None,
        help="also multiply it by this after each epoch whose validation ELBO did not improve "
        "(reduce on plateau, e.g. 0.25); 1 = off (default). May be set when resuming",
    )
    opts.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="decoupled weight decay (AdamW) when > 0; 0 = plain Adam (default 0.05 for nvdm, "
        "whose encoder otherwise fits the training documents' posteriors better than it "
        "generalizes; 0 for the other models)",
    )
    opts.add_argument(
        "--ema",
        type=float,
        default=0.999,
        help="evaluate and save an exponential moving average of the weights with this decay; "
        "0 = use the last weights (default 0.999)",
    )
    opts.add_argument(
        "--clip-norm",
        type=float,
        default=None,
        help="clip each parameter's gradient norm (default: 10 for the score-function guide, "
        "else no clipping)",
    )
    opts.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after this many epochs without validation improvement; 0 = never (default 30)",
    )
    opts.add_argument(
        "--valid-fraction",
        type=float,
        default=0.05,
        help="share of train held out for validation when the corpus has no valid "
        "split (default 0.05)",
    )
    opts.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sen = opts.add_argument_group("sentence models (sentence-vae, rnnlm)")
    sen.add_argument("--embedding-dim", type=int, default=353, help="word embedding (353)")
    sen.add_argument("--hidden-dim", type=int, default=191, help="LSTM hidden units (191)")
    sen.add_argument(
        "--word-dropout",
        type=float,
        default=0.0,
        help="probability of replacing a decoder input by <unk> in training; 1 = inputless "
        "decoder (default 0)",
    )
    sen.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout on the decoder's embeddings and LSTM outputs, in training (default 0)",
    )
    sen.add_argument(
        "--tie-embeddings",
        action="store_true",
        help="share the decoder's input embeddings with its output layer (Press and Wolf, "
        "2017), through a projection when --hidden-dim differs from --embedding-dim",
    )
    sen.add_argument(
        "--z-at-start-only",
        action="store_true",
        help="feed z only through the decoder's initial state, not at every step",
    )
    sen.add_argument("--max-vocab", type=int, default=10000, help="vocabulary size (10000)")
    sen.add_argument(
        "--max-length", type=int, default=None, help="truncate longer sentences (counted)"
    )
    return opts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppl-vae",
        description="Train and evaluate deep generative models of text written in Pyro.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    opts = _training_options()
    tr = sub.add_parser(
        "train",
        parents=[opts],
        help="train a model by SVI",
        description="Train a model and guide by SVI, then evaluate on test.",
    )
    tr.add_argument(
        "model",
        choices=sorted([*MODELS, MIXTURE]),
        help="the generative model: nvdm (Gaussian latent), sbn (binary latent units), "
        "mixture (mixture of multinomials), sentence-vae (Bowman et al.'s LSTM VAE), or rnnlm "
        "(its decoder without a latent variable)",
    )
    tr.add_argument("--out", required=True, help="run directory for checkpoints and logs")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (its saved config "
        "is used; --epochs may extend it, and --lr, --lr-drop and --patience change it)",
    )
    tr.add_argument(
        "--guide",
        default=None,
        choices=sorted({g for gs in GUIDES.values() for g in gs}),
        help="the inference network (default: diagonal for nvdm, bernoulli for sbn)",
    )
    tr.add_argument(
        "--eval-samples",
        type=int,
        default=100,
        help="importance samples for the final test evaluation; 0 skips it (default 100)",
    )
    tr.add_argument(
        "--topics",
        type=int,
        default=10,
        help="show the top words of this many latent dimensions (default 10)",
    )
    mix = tr.add_argument_group("mixture of multinomials")
    mix.add_argument(
        "--algorithm",
        default="em",
        choices=["em", "svi"],
        help="exact EM, or SVI with the class enumerated (TraceEnum_ELBO) (default em)",
    )
    mix.add_argument("--k", type=int, default=20, help="number of classes K (default 20)")
    mix.add_argument("--restarts", type=int, default=3, help="random restarts (default 3)")
    mix.add_argument(
        "--iterations", type=int, default=200, help="most EM iterations per restart (default 200)"
    )
    mix.add_argument(
        "--beta-concentration",
        type=float,
        default=2.0,
        help="Dirichlet prior on each class's words; 2 = add-one smoothing (default 2)",
    )
    _add_common(tr)

    cp = sub.add_parser(
        "compare",
        parents=[opts],
        help="train one model with several guides and compare them",
        description="Train the model once per guide with the same seed, data and budget, then "
        "write a table (comparison.md, comparison.json) of ELBO and importance-sampled "
        "perplexity, KL, active units, mutual information, amortization gap, PSIS k-hat, "
        "gradient variance and seconds per epoch, and curves.png with one line per guide.",
    )
    cp.add_argument(
        "--model",
        default="nvdm",
        choices=sorted(COMPARE_MODELS),
        help="nvdm (documents) or sentence (Bowman et al.'s sentence VAE) (default nvdm)",
    )
    cp.add_argument(
        "--guides",
        type=lambda t: [g.strip() for g in t.split(",") if g.strip()],
        required=True,
        help="comma-separated guide names, e.g. diagonal,full-covariance,iaf",
    )
    cp.add_argument("--out", required=True, help="directory for the runs and the table")
    cp.add_argument(
        "--samples",
        type=int,
        default=100,
        help="importance samples per test item for perplexity (default 100)",
    )
    cp.add_argument(
        "--psis-samples",
        type=int,
        default=200,
        help="guide samples per analysed item for PSIS k-hat (default 200; k-hat needs 100+)",
    )
    cp.add_argument(
        "--analysis-items",
        type=int,
        default=200,
        help="test items used for the amortization gap and PSIS k-hat (default 200)",
    )
    cp.add_argument(
        "--gap-steps",
        type=int,
        default=100,
        help="Adam steps of the per-item optimization behind the amortization gap (default 100)",
    )
    cp.add_argument(
        "--grad-estimates",
        type=int,
        default=20,
        help="gradient estimates on one batch for the gradient variance (default 20)",
    )
    cp.add_argument(
        "--reuse",
        action="store_true",
        help="continue an interrupted comparison: resume each guide's run in --out if its "
        "configuration matches, and keep rows already measured",
    )
    _add_common(cp)

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
        "--split",
        default="test",
        choices=["train", "valid", "test"],
        help="which split (default test)",
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
    _add_common(ev)

    sm = sub.add_parser(
        "sample",
        help="sentences from the prior of a sentence VAE",
        description="Decode z ~ N(0, I) into sentences.",
    )
    sm.add_argument("run_dir", help="a sentence-vae run directory")
    sm.add_argument("--n", type=int, default=10, help="how many sentences (default 10)")
    how = sm.add_mutually_exclusive_group()
    how.add_argument(
        "--greedy", action="store_true", help="most probable word at each step (the default)"
    )
    how.add_argument(
        "--temperature", type=float, default=None, help="sample each word with logits divided by T"
    )
    how.add_argument("--beam", type=int, default=None, help="beam search with this width")
    sm.add_argument("--max-length", type=int, default=30, help="most words (default 30)")
    sm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    rc = sub.add_parser(
        "reconstruct",
        help="decode sentences through the posterior",
        description="For each sentence, decode the posterior mean (MEAN) and "
        "samples of q(z|x) (SAMP), as in Bowman et al.'s Table 4.",
    )
    rc.add_argument("run_dir", help="a sentence-vae run directory")
    rc.add_argument("sentences", nargs="+", help="whitespace-tokenized sentences")
    rc.add_argument("--samples", type=int, default=3, help="SAMP rows per sentence (default 3)")
    rc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rc.add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy (default)")

    ip = sub.add_parser(
        "interpolate",
        help="homotopy between two sentences",
        description="Decode evenly spaced points between the posterior means of two sentences.",
    )
    ip.add_argument("run_dir", help="a sentence-vae run directory")
    ip.add_argument("a", help="the first sentence")
    ip.add_argument("b", help="the second sentence")
    ip.add_argument("--steps", type=int, default=5, help="points, ends included (default 5)")
    ip.add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy (default)")

    dl = sub.add_parser(
        "download",
        help="fetch a public corpus",
        description="Download 20news (NVDM release) or ptb (Mikolov's Penn Treebank), checked "
        "against their SHA-256.",
    )
    dl.add_argument("corpus", choices=["20news", "ptb"], help="which corpus")
    dl.add_argument("--dest", default="data", help="directory to put it in (default data/)")

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
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def cmd_train_mixture(args: argparse.Namespace) -> int:
    if args.resume:
        raise UsageError("mixture runs take seconds to minutes; --resume is not supported")
    data = load_documents(args.data, valid_fraction=0.0, seed=args.seed)
    fit = train_mixture(
        data,
        args.out,
        args.algorithm,
        args.k,
        beta_concentration=args.beta_concentration,
        restarts=args.restarts,
        iterations=args.iterations,
        epochs=args.epochs or 20,
        batch_size=args.batch_size or 500,
        lr=args.lr if args.lr is not None else 0.2,
        seed=args.seed,
        progress=not args.no_progress,
    )
    unit = "iterations" if args.algorithm == "em" else "epochs"
    print(
        f"fitted a mixture of {args.k} multinomials by {args.algorithm} ({fit.iterations} "
        f"{unit}, {fit.seconds:.1f} s); run directory {args.out}"
    )
    if args.eval_samples > 0:
        _report(args.out, None, "test", args.eval_samples, args.device, args.topics, False)
    return 0


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` that the training flags describe (``args.model``/``args.guide``
    included); fills in ``args.guide`` and ``args.objective`` with the model's defaults."""
    synthetic = args.data is None or args.data == SYNTHETIC
    args.guide = args.guide or DEFAULT_GUIDE[args.model]
    args.objective = args.objective or GUIDE_OBJECTIVE.get(
        args.guide, DEFAULT_OBJECTIVE[args.model]
    )
    if args.guide not in GUIDES[args.model]:
        raise UsageError(
            f"guide {args.guide!r} does not fit model {args.model!r}; choose from "
            f"{', '.join(sorted(GUIDES[args.model]))}"
        )
    try:
        check_combination(args.guide, args.objective)
    except ValueError as e:
        raise UsageError(str(e)) from None
    annealed = args.anneal != "constant" or args.beta != 1.0
    if annealed and args.objective not in ANNEALABLE:
        raise UsageError(
            f"the {args.objective} objective cannot be combined with KL annealing (it has no KL "
            f"term to weight); use --anneal constant --beta 1, or one of {', '.join(ANNEALABLE)}"
        )
    sentences = args.model in SENTENCE_MODELS
    if sentences:
        sizes = {"embedding_dim": args.embedding_dim, "hidden_dim": args.hidden_dim}
        model_kwargs = dict(sizes)
        if args.dropout:
            model_kwargs["dropout"] = args.dropout
        if args.tie_embeddings:
            model_kwargs["tie_embeddings"] = True
        if args.model == "sentence-vae":
            model_kwargs.update(
                word_dropout=args.word_dropout, z_every_step=not args.z_at_start_only
            )
        guide_kwargs = sizes if args.guide != "none" else {}
    else:
        model_kwargs, guide_kwargs = {}, {"hidden_sizes": list(args.hidden)}
        if args.encoder_dropout:
            guide_kwargs["dropout"] = args.encoder_dropout
    return TrainConfig(
        model=args.model,
        guide=args.guide,
        latent_dim=args.latent_dim or (13 if sentences else 50),
        model_kwargs=model_kwargs,
        guide_kwargs=guide_kwargs,
        objective=args.objective,
        num_particles=args.particles,
        free_bits=args.free_bits,
        anneal=args.anneal,
        beta=args.beta,
        beta_start=args.beta_start,
        anneal_epochs=args.anneal_epochs if args.anneal != "constant" else 0.0,
        epochs=args.epochs or (40 if synthetic else 150),
        batch_size=args.batch_size or (32 if sentences else 64),
        lr=args.lr if args.lr is not None else 1e-3,
        lr_decay=args.lr_decay if args.lr_decay is not None else 0.99,
        lr_drop=args.lr_drop if args.lr_drop is not None else 1.0,
        weight_decay=args.weight_decay
        if args.weight_decay is not None
        else DEFAULT_WEIGHT_DECAY.get(args.model, 0.0),
        ema_decay=args.ema,
        clip_norm=args.clip_norm if args.clip_norm is not None else GUIDE_CLIP_NORM.get(args.guide),
        # early stopping watches the validation ELBO, which wake-sleep objectives do not climb
        patience=args.patience
        if args.patience is not None
        else (30 if args.objective in ELBO_CLIMBING else 0),
        seed=args.seed,
        device=args.device,
    )


def _training_data(args: argparse.Namespace):
    """The corpus the training flags name: sentences for sentence models, else documents."""
    if args.model in SENTENCE_MODELS:
        return load_sentence_data(args.data, args.max_vocab, max_length=args.max_length)
    return load_documents(args.data, valid_fraction=args.valid_fraction, seed=args.seed)


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == MIXTURE:
        return cmd_train_mixture(args)
    config = _train_config(args)
    data = None if args.resume else _training_data(args)
    given = {"lr": args.lr, "lr_drop": args.lr_drop, "patience": args.patience}
    overrides = {k: v for k, v in given.items() if v is not None} if args.resume else None
    result = run_training(
        config,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        data=data,
        overrides=overrides,
    )
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
    if args.eval_samples > 0:
        pyro.set_rng_seed(args.seed)
        _report(
            args.out,
            None,
            "test",
            args.eval_samples,
            args.device,
            args.topics,
            progress=not args.no_progress,
        )
    return 0


def _report(
    run_dir, data_dir, split, samples, device, n_topics, progress, which: str = "best"
) -> dict:
    if is_mixture_run(run_dir):
        return _report_mixture(run_dir, data_dir, split, n_topics)
    run = load_run(run_dir, which=which, device=device)
    if run.config.model in SENTENCE_MODELS:
        return _report_sentences(run, data_dir, split, samples, device, n_topics, progress)
    data = load_documents(data_dir if data_dir else run.config.data, seed=run.config.seed)
    source = str(data_dir or data.source.get("path", SYNTHETIC))
    check_vocab(run.vocab, run.path, data.vocab, source)
    corpus = data.get(split)
    ev = evaluate(
        run.model, run.guide, corpus, num_samples=samples, device=device, progress=progress
    )
    out = {
        **ev.to_dict(),
        "split": split,
        "checkpoint": str(run.path),
        "ppl_doc_elbo_is_bound": True,
    }
    if n_topics is not None:
        print(evaluation_table(ev, f"{split} evaluation of {run.path}:"))
    if data.synthetic is not None and split == "test":
        rec = recovery_report(data.synthetic, ev, run.model.topic_weights().cpu())
        out["recovery"] = rec
        if n_topics is not None:
            print("recovery of the generating model (synthetic corpus):")
            print(
                f"  active units {rec['active_units']} (true latent dimension "
                f"{rec['true_latent_dim']}); decoder subspace captures "
                f"{100 * rec['subspace_recovery']:.1f}% of the true loadings"
            )
            print(
                f"  per-document perplexity: model (IW) {rec['ppl_doc_iw']:.1f}, "
                f"oracle p(x|z_true) {rec['ppl_doc_oracle']:.1f}, unigram "
                f"{rec['ppl_doc_unigram']:.1f}"
            )
    if n_topics:
        dims = dimensions_by_activity(torch.as_tensor(ev.latent_means))[:n_topics]
        print(f"topics (top words of the {len(dims)} most active latent dimensions):")
        print(topics_table(run.model.topic_weights().cpu(), run.vocab, 10, dims))
    return out


def _report_sentences(run, data_dir, split, samples, device, n_table, progress) -> dict:
    data = load_sentence_data(data_dir or run.config.data)
    check_vocab(
        run.vocab, run.path, list(data.vocab), str(data_dir or data.source.get("path", SYNTHETIC))
    )
    corpus = data.get(split)
    ev = evaluate(
        run.model, run.guide, corpus, num_samples=samples, device=device, progress=progress
    )
    est_nll = {"elbo": -ev.elbo, "iw": ev.nll_iw}
    words = np.asarray(corpus.words, dtype=np.float64)
    out = {
        **ev.to_dict(),
        "split": split,
        "checkpoint": str(run.path),
        "nll_elbo": est_nll["elbo"],
        "nll_iw": est_nll["iw"],
    }
    for name, nll in est_nll.items():  # exp(total NLL / total tokens), both conventions
        out[f"ppl_{name}_with_eos"] = perplexity_corpus(-nll * len(words), words + 1)
        out[f"ppl_{name}_without_eos"] = perplexity_corpus(-nll * len(words), words)
    out["mi"] = (
        guide_mutual_information(run.guide, corpus.eval_batches(200, device))
        if run.config.model != "rnnlm"
        else 0.0
    )
    if n_table is not None:
        print(f"{split} evaluation of {run.path} ({ev.documents} sentences):")
        print(
            f"  NLL per sentence: ELBO {out['nll_elbo']:.2f}, IW ({samples} samples) "
            f"{out['nll_iw']:.2f} nats; KL {ev.kl:.2f}; active units {ev.active_units}; "
            f"MI {out['mi']:.2f}"
        )
        print(
            f"  perplexity, IW: {out['ppl_iw_with_eos']:.1f} counting <eos>, "
            f"{out['ppl_iw_without_eos']:.1f} without; ELBO: {out['ppl_elbo_with_eos']:.1f} / "
            f"{out['ppl_elbo_without_eos']:.1f}"
        )
    return out


def _report_mixture(run_dir, data_dir, split, n_topics) -> dict:
    fit, config, vocab, path = load_mixture(run_dir)
    data = load_documents(data_dir or config["data"], valid_fraction=0.0, seed=config["seed"])
    check_vocab(vocab, path, data.vocab, str(data_dir or data.source.get("path", SYNTHETIC)))
    out = {**evaluate_mixture(fit, data.get(split)), "split": split, "checkpoint": str(path)}
    if n_topics is not None:
        print(f"{split} evaluation of {path} (exact log p(x) by enumeration):")
        print(
            f"  perplexity per document {out['ppl_doc_elbo']:.1f}, over corpus "
            f"{out['ppl_corpus_elbo']:.1f}; -log p(x) per document {out['nll_iw']:.2f} nats"
        )
        print(
            f"  KL(p(z|x) || p(z)) {out['kl']:.3f} nats; components in use "
            f"{out['active_units']} of {fit.num_components}"
        )
    if n_topics:
        print("top words of each class:")
        print(
            topics_table(
                fit.log_topics.T.float(), vocab, 10, list(range(min(n_topics, fit.num_components)))
            )
        )
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    pyro.set_rng_seed(args.seed)
    out = _report(
        args.run_dir,
        args.data,
        args.split,
        args.samples,
        args.device,
        None if args.json else 0,
        progress=not args.no_progress and not args.json,
        which=args.checkpoint,
    )
    if args.json:
        print(json.dumps(out))
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    if is_mixture_run(args.run_dir):
        fit, _, vocab, _ = load_mixture(args.run_dir)
        weights = fit.log_topics.T.float()
    else:
        run = load_run(args.run_dir)
        weights, vocab = run.model.topic_weights().cpu(), run.vocab
    dims = list(range(weights.shape[1]))[: args.dims]
    if args.json:
        from ppl_vae.evaluation.topics import top_words

        print(
            json.dumps({str(d): ws for d, ws in zip(dims, top_words(weights, vocab, args.k, dims))})
        )
    else:
        print(topics_table(weights, vocab, args.k, dims))
    return 0


def _sentence_run(run_dir):
    from ppl_vae.data.vocabulary import Vocabulary

    run = load_run(run_dir)
    if run.config.model != "sentence-vae":
        raise UsageError(f"{run_dir} is a {run.config.model} run; this needs a sentence-vae run")
    return run, Vocabulary(run.vocab)


def cmd_sample(args: argparse.Namespace) -> int:
    from ppl_vae.evaluation.generation import decode, to_text

    run, vocab = _sentence_run(args.run_dir)
    pyro.set_rng_seed(args.seed)
    z = torch.randn(args.n, run.config.latent_dim)
    method = "beam" if args.beam else "sample" if args.temperature else "greedy"
    ids = decode(run.model, z, args.max_length, method, args.temperature or 1.0, args.beam or 1)
    print("\n".join(to_text(vocab, ids)))
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from ppl_vae.evaluation.generation import encode_sentences, reconstruct

    run, vocab = _sentence_run(args.run_dir)
    unknown = encode_sentences(vocab, args.sentences)[2]
    if unknown:
        print(f"note: {unknown} word(s) not in the vocabulary were read as <unk>", file=sys.stderr)
    pyro.set_rng_seed(args.seed)
    for row in reconstruct(
        run.model, run.guide, vocab, args.sentences, args.samples, beam=args.beam
    ):
        print(f"INPUT  {row['input']}\nMEAN   {row['mean']}")
        for sample in row["samples"]:
            print(f"SAMP   {sample}")
        print()
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ppl_vae.evaluation.generation import interpolate

    run, vocab = _sentence_run(args.run_dir)
    path = interpolate(run.model, run.guide, vocab, args.a, args.b, args.steps, beam=args.beam)
    print("\n".join(path))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from ppl_vae.data.download import download_corpus

    print(f"corpus ready in {download_corpus(args.corpus, args.dest)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ppl_vae.runs.compare import compare_guides, comparison_markdown

    args.model = COMPARE_MODELS[args.model]
    objective_flag = args.objective
    configs = {}
    for name in args.guides:
        args.guide, args.objective = name, objective_flag
        configs[name] = _train_config(args)
    base = configs[args.guides[0]]
    rows = compare_guides(
        base,
        args.guides,
        _training_data(args),
        args.out,
        overrides={
            g: {"objective": c.objective, "guide_kwargs": c.guide_kwargs, "clip_norm": c.clip_norm}
            for g, c in configs.items()
        },
        eval_samples=args.samples,
        analysis_items=args.analysis_items,
        gap_steps=args.gap_steps,
        grad_estimates=args.grad_estimates,
        psis_samples=args.psis_samples,
        reuse=args.reuse,
        progress=not args.no_progress,
    )
    print(comparison_markdown(rows), end="")
    print(f"wrote {args.out}/comparison.md, comparison.json and curves.png")
    return 0


COMMANDS = {
    "train": cmd_train,
    "compare": cmd_compare,
    "evaluate": cmd_evaluate,
    "topics": cmd_topics,
    "download": cmd_download,
    "sample": cmd_sample,
    "reconstruct": cmd_reconstruct,
    "interpolate": cmd_interpolate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        return COMMANDS[args.command](args)
    except (DataError, CheckpointError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
