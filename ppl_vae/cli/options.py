"""The flags shared by ``train`` and ``compare``, and the config they describe.

Defaults are not set here: a flag left out takes the model's preset
(:func:`ppl_vae.runs.presets.preset`), and the help text shows the preset's value.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from ppl_vae.infer.objectives import OBJECTIVES
from ppl_vae.ops.annealing import SCHEDULES
from ppl_vae.runs.presets import BY_DATA, BY_MODEL, COMMON, EPOCHS, preset
from ppl_vae.runs.registry import model_class
from ppl_vae.training.distributed import init_from_env


class UsageError(ValueError):
    """A combination of flags that cannot work."""


def sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


_DOC, _SEN = BY_DATA["documents"], BY_DATA["sentences"]
_SV = BY_MODEL["sentence-vae"]  # the sentence VAE's defaults that keep z in use
_SWITCH = {"auto": None, "on": True, "off": False}
_HIDDEN = ",".join(map(str, _DOC["guide_kwargs"]["hidden_sizes"]))
#: (flag, TrainConfig field or None, argparse keywords); None: read by the data loader
TRAINING_FLAGS: list[tuple[str, str | None, dict]] = [
    ("--data", None, {"help": "corpus directory (NVDM .feat + vocab.new, or train/test .txt); "
                      "default: the embedded synthetic corpus"}),
    ("--latent-dim", "latent_dim", {"type": int, "help": f"latent dimension K (default "
                                    f"{_DOC['latent_dim']}; {_SEN['latent_dim']} for sentence "
                                    "models, as Bowman et al.)"}),
    ("--hidden", "hidden_sizes", {"type": sizes, "help": f"document encoder hidden sizes, "
                                  f"comma-separated (default {_HIDDEN})"}),
    ("--encoder-dropout", "encoder_dropout", {"type": float, "help": "dropout after each "
                                              "document encoder hidden layer, in training "
                                              "(default 0)"}),
    ("--prior-components", "prior_components", {"type": int, "help": "nvdm: a learned "
                                                "mixture of this many diagonal Gaussians as "
                                                "p(z) (default 0: N(0, I))"}),
    ("--objective", "objective", {"choices": OBJECTIVES, "help": "the training objective "
                                  "(default: the guide's; meanfield for the document Gaussian "
                                  "guides, free-bits for the sentence VAE's, nvil for "
                                  "score-function ones, trace for rnnlm)"}),
    ("--particles", "num_particles", {"type": int, "help": "ELBO particles per step, or K for "
                                      "rws and iwae (default 1; rws uses at least 2)"}),
    ("--free-bits", "free_bits", {"type": float, "help": "nats per latent dimension below "
                                  "which the KL stops pushing, for --objective free-bits "
                                  f"(default {_SV['free_bits']:g} for sentence-vae, 0.5 "
                                  "otherwise)"}),
    ("--anneal", "anneal", {"choices": SCHEDULES, "help": "KL weight schedule (default "
                            f"{_SV['anneal']} for sentence-vae, {BY_MODEL['lda']['anneal']} for "
                            "lda, constant otherwise)"}),
    ("--beta", "beta", {"type": float, "help": "constant KL weight, or the final weight of a "
                        "schedule (default 1; 0 trains an autoencoder)"}),
    ("--beta-start", "beta_start", {"type": float, "help": "first KL weight of the linear and "
                                    "cyclical schedules (default 0)"}),
    ("--anneal-epochs", "anneal_epochs", {"type": float, "help": "warm-up (or cycle) length in "
                                          f"epochs (default {COMMON['anneal_epochs']:g}; "
                                          f"{_SV['anneal_epochs']:g} for sentence-vae, "
                                          f"{BY_MODEL['lda']['anneal_epochs']:g} for lda; at most "
                                          "half of --epochs unless given)"}),
    ("--epochs", "epochs", {"type": int, "help": f"maximum epochs (default {EPOCHS['corpus']} "
                            f"on a corpus directory, {EPOCHS['synthetic']} on the synthetic "
                            f"corpus; {BY_MODEL['rsm']['epochs']} for rsm)"}),
    ("--batch-size", "batch_size", {"type": int, "help": f"items per step (default "
                                    f"{_DOC['batch_size']} documents, {_SEN['batch_size']} "
                                    "sentences)"}),
    ("--lr", "lr", {"type": float, "help": f"Adam learning rate (default {COMMON['lr']:g})"}),
    ("--lr-decay", "lr_decay", {"type": float, "help": "multiply the learning rate by this "
                                f"after each epoch (default {COMMON['lr_decay']:g})"}),
    ("--lr-drop", "lr_drop", {"type": float, "help": "also multiply it by this after each epoch "
                              "whose validation ELBO did not improve (e.g. 0.25); 1 = off "
                              "(default). May be set when resuming"}),
    ("--weight-decay", "weight_decay", {"type": float, "help": "decoupled weight decay (AdamW) "
                                        "when > 0 (default "
                                        f"{BY_MODEL['nvdm']['weight_decay']:g} for nvdm, 0 for "
                                        "the other models)"}),
    ("--ema", "ema_decay", {"type": float, "help": "evaluate and save a moving average of the "
                            "weights with this decay; 0 = the last weights (default "
                            f"{COMMON['ema_decay']:g})"}),
    ("--clip-norm", "clip_norm", {"type": float, "help": "clip each parameter's gradient norm "
                                  "(default: the guide's; 10 for score-function, else none)"}),
    ("--patience", "patience", {"type": int, "help": "stop after this many epochs without "
                                f"validation improvement; 0 = never (default "
                                f"{COMMON['patience']}; 0 for wake-sleep and rws)"}),
    ("--valid-fraction", None, {"type": float, "default": 0.05, "help": "share of train held "
                                "out for validation when the corpus has no valid split "
                                "(default 0.05)"}),
    ("--sparse-input", "sparse_input", {"type": lambda v: _SWITCH[v], "choices": [None, True,
                                        False], "metavar": "{auto,on,off}", "help": "feed "
                                        "document encoders' first layer a sparse (CSR) batch: "
                                        "auto times both ways on the first batch and keeps the "
                                        "faster (default auto)"}),
    ("--seed", "seed", {"type": int, "help": "random seed (default 0)"}),
]  # fmt: skip
SENTENCE_FLAGS: list[tuple[str, str | None, dict]] = [
    ("--embedding-dim", "embedding_dim", {"type": int, "help": "word embedding width "
                                          f"(default {_SEN['model_kwargs']['embedding_dim']})"}),
    ("--hidden-dim", "hidden_dim", {"type": int, "help": "LSTM hidden units (default "
                                    f"{_SEN['model_kwargs']['hidden_dim']})"}),
    ("--word-dropout", "word_dropout", {"type": float, "help": "probability of replacing a "
                                        "decoder input by <unk> in training; 1 = inputless "
                                        "decoder (default "
                                        f"{_SV['model_kwargs']['word_dropout']:g} for "
                                        "sentence-vae, 0 otherwise)"}),
    ("--dropout", "dropout", {"type": float, "help": "dropout on the decoder's embeddings and "
                              "LSTM outputs, in training (default "
                              f"{_SV['model_kwargs']['dropout']:g} for sentence-vae, 0 "
                              "otherwise)"}),
    ("--tie-embeddings", "tie_embeddings", {"action": "store_true", "default": None,
                                            "help": "share the decoder's input embeddings with "
                                            "its output layer (Press and Wolf, 2017)"}),
    ("--z-at-start-only", "z_at_start_only", {"action": "store_true", "default": None,
                                              "help": "feed z only through the decoder's "
                                              "initial state, not at every step"}),
    ("--max-vocab", None, {"type": int, "help": "vocabulary size of a corpus read from text "
                           "(default 10000 for sentences, 2000 for documents; refused for the "
                           "NVDM .feat format, whose vocabulary is fixed)"}),
    ("--unk-token", None, {"action": "append", "metavar": "TOKEN",
                           "help": "the corpus's own unknown marker, read as <unk> (repeatable; "
                           "the count is logged)"}),
    ("--max-length", None, {"type": int, "help": "cut longer training sentences to this many "
                            "words, counted and logged (default 200; 0 = never); validation "
                            "and test sentences are scored whole"}),
]  # fmt: skip
RSM_FLAGS: list[tuple[str, str | None, dict]] = [
    ("--cd-steps", "cd_steps", {"type": int, "help": "Gibbs steps k of contrastive divergence "
                                "(default 1: CD-1)"}),
    ("--persistent", None, {"action": "store_true", "help": "persistent CD: keep one negative "
                            "chain per document of a batch between steps (Tieleman, 2008); "
                            "the README's 20 Newsgroups recipe"}),
    ("--optimizer", "optimizer", {"choices": ["adam", "sgd"], "help": "adam, or sgd with "
                                  "--momentum and L2 --weight-decay (default adam)"}),
    ("--momentum", "momentum", {"type": float, "help": "momentum of --optimizer sgd (default "
                                "0.9)"}),
]  # fmt: skip
#: the flags that set constructor keywords, and whose: the model's, the guide's or both
_NETWORK = {
    "hidden_sizes": "guide",
    "encoder_dropout": "guide",
    "prior_components": "model",
    "embedding_dim": "both",
    "hidden_dim": "both",
    "word_dropout": "model",
    "dropout": "model",
    "tie_embeddings": "model",
    "z_at_start_only": "model",
}
#: flag fields whose constructor keyword differs, and how the value is converted
_KEYWORD = {
    "encoder_dropout": ("dropout", float),
    "z_at_start_only": ("z_every_step", lambda v: not v),
    "hidden_sizes": ("hidden_sizes", list),
}


def join_job(args: argparse.Namespace) -> bool:
    """Under ``torchrun``, join the job's process group: every rank computes (training and
    evaluation are shared out), rank 0 alone prints and shows progress. True on rank 0, and in
    a plain process."""
    if init_from_env(args.device).main:
        return True
    args.no_progress = True
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of this process
    return False


def add_common(p: argparse.ArgumentParser) -> None:
    """Device, progress, threads and logging, for every subcommand that computes."""
    default = "cuda" if torch.cuda.is_available() else "cpu"
    p.add_argument(
        "--device",
        default=default,
        choices=["cpu", "cuda"],
        help="where to run (default: cuda when available, else cpu)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_threads(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every epoch")


def add_threads(p: argparse.ArgumentParser) -> None:
    """``--threads``, which every subcommand takes (``download`` runs no torch but accepts it)."""
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: OMP_NUM_THREADS if set, else 1 for document "
        "models, and for sentence models every core unless the machine is busy)",
    )


def training_options() -> argparse.ArgumentParser:
    """The flags shared by ``train`` and ``compare``: data, sizes, objective and budget."""
    opts = argparse.ArgumentParser(add_help=False)
    group = opts.add_argument_group("sentence models (sentence-vae, sentence-ae, rnnlm)")
    rsm = opts.add_argument_group("Replicated Softmax (rsm; --hidden N sets its hidden units)")
    for flags, where in ((TRAINING_FLAGS, opts), (SENTENCE_FLAGS, group), (RSM_FLAGS, rsm)):
        for flag, field, kwargs in flags:
            dest = {"dest": field} if field else {}  # the flag's value lands on its field
            where.add_argument(flag, **{"default": None, **dest, **kwargs})
    return opts


def config_from_args(args: argparse.Namespace, model: str, guide: str | None):
    """The :class:`~ppl_vae.config.TrainConfig` that the flags describe: the model's preset
    with each given flag in place of its default."""
    fields, network = {}, {"model": {}, "guide": {}}
    if getattr(model_class(model), "hidden_units_flag", False) and args.hidden_sizes:
        units = args.hidden_sizes  # e.g. the RSM: --hidden is its hidden units, one number
        if len(units) != 1:
            raise UsageError(f"--hidden for {model} is one number of hidden units, not {units}")
        if args.latent_dim is not None and args.latent_dim != units[0]:
            raise UsageError(f"--hidden {units[0]} and --latent-dim {args.latent_dim} disagree")
        args.latent_dim, args.hidden_sizes = units[0], None
    for _, field, _ in TRAINING_FLAGS + SENTENCE_FLAGS + RSM_FLAGS:
        value = getattr(args, field, None) if field else None
        if value is None or field == "objective":
            continue
        if field not in _NETWORK:
            fields[field] = value
            continue
        key, convert = _KEYWORD.get(field, (field, lambda v: v))
        sides = ("model", "guide") if _NETWORK[field] == "both" else (_NETWORK[field],)
        for side in sides:
            network[side][key] = convert(value)
    fields["device"] = args.device
    synthetic = args.data is None or args.data == "synthetic"
    if getattr(args, "persistent", False):  # one chain per document of a batch
        batch = fields.get("batch_size") or BY_DATA[model_class(model).data]["batch_size"]
        network["model"]["persistent_chains"] = batch
    try:
        return preset(
            model,
            guide,
            args.objective,
            synthetic,
            model_kwargs=network["model"],
            guide_kwargs=network["guide"],
            **fields,
        )
    except ValueError as e:
        message = str(e)
        if "takes no option" in message:  # name the flags, not the keywords
            for flag, field, _ in TRAINING_FLAGS + SENTENCE_FLAGS:
                keyword = _KEYWORD.get(field, (field,))[0] if field in _NETWORK else None
                if keyword and f"option {keyword}" in message and getattr(args, field, None):
                    message += f" (set by {flag}, which does not apply to this model)"
        raise UsageError(message) from None
