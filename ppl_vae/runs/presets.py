"""Default configurations per model, as data, for the command line, examples and scripts.

:func:`preset` gives the :class:`~ppl_vae.config.TrainConfig` that ``ppl-vae train MODEL``
trains with no flags: the model's default guide and that guide's default objective and clipping
(facts on their classes), then the values below, then whatever the caller overrides.

    >>> config = preset("nvdm", synthetic=False, lr=3e-4)
"""

from __future__ import annotations

import inspect
from typing import Any

from ppl_vae.config import TrainConfig
from ppl_vae.infer.objectives import OBJECTIVE_CLASSES, check_combination, objective_class
from ppl_vae.runs.registry import guide_class, model_class

#: what every model trains with unless its data kind or its own preset says otherwise
COMMON: dict[str, Any] = {
    "lr": 1e-3,
    "lr_decay": 0.99,
    "ema_decay": 0.999,
    "anneal_epochs": 10.0,  # for the non-constant schedules
    "patience": 30,  # for objectives whose validation ELBO climbs; 0 for the others
}
#: by the kind of data a model reads
BY_DATA: dict[str, dict[str, Any]] = {
    "documents": {
        "latent_dim": 50,
        "batch_size": 64,
        "guide_kwargs": {"hidden_sizes": [500, 500]},
    },
    "sentences": {  # Bowman et al.'s sizes
        "latent_dim": 13,
        "batch_size": 32,
        "model_kwargs": {"embedding_dim": 353, "hidden_dim": 191},
        "guide_kwargs": {"embedding_dim": 353, "hidden_dim": 191},
    },
}
#: by model: test ELBO perplexity 830 and 828 (seeds 0, 1) for NVDM with weight decay, against
#: 835 without (its encoder otherwise fits the training documents' posteriors better than it
#: generalizes)
#: LDA warms its KL up: from a full-weight start amortized LDA often merges topics for good
#: (on a 4-topic synthetic LDA corpus of 60-word documents, 2 seeds of 5 without the warm-up,
#: 1 of 4 with it)
#: the Replicated Softmax stops at 50 epochs: contrastive divergence follows no likelihood, and
#: on 20 Newsgroups (50 hidden units, seed 2) the validation perplexity by AIS went from 843 at
#: 50 epochs to 1030 at 150 with persistent CD, and from 902 to 1320 with CD-1
#: the sentence VAE keeps z in use by default (its guides' default objective is free bits):
#: free bits of 0.2 nats per dimension, the KL weight warmed up by a sigmoid, word dropout and
#: dropout 0.3, the README's Penn Treebank recipe at Bowman et al.'s sizes; without them the
#: LSTM decoder ignores z (KL under 0.01 nats on the embedded corpus and on a corpus of long
#: documents). See the README's "Defaults that keep z in use".
BY_MODEL: dict[str, dict[str, Any]] = {
    "nvdm": {"weight_decay": 0.05},
    "sentence-vae": {
        "free_bits": 0.2,
        "anneal": "sigmoid",
        "anneal_epochs": 4.0,
        "model_kwargs": {"word_dropout": 0.3, "dropout": 0.3},
    },
    "rsm": {"ema_decay": 0.0, "epochs": 50},
    "lda": {"anneal": "linear", "anneal_epochs": 20.0},
}
#: epochs: the embedded synthetic corpus is small and quick
EPOCHS = {"synthetic": 40, "corpus": 150}
#: importance samples of the test evaluation at the end of ``ppl-vae train``, by the kind of
#: data: a document model's closed-form estimate takes about a minute at 1,000 samples on
#: 20 Newsgroups; a sentence VAE re-runs its decoder per sample (about 10 minutes at 100 on
#: PTB's test set, hours on a corpus of long documents), so ``train`` ends with 10 and
#: ``ppl-vae evaluate RUN --samples 100`` gives the README's figures
EVAL_SAMPLES = {"documents": 100, "sentences": 10}


def eval_samples(model: str) -> int:
    """Importance samples for the test evaluation that ends ``ppl-vae train MODEL``."""
    return EVAL_SAMPLES[model_class(model).data]


def preset(
    model: str,
    guide: str | None = None,
    objective: str | None = None,
    synthetic: bool = True,
    **overrides: Any,
) -> TrainConfig:
    """The default configuration of ``model``, with ``overrides`` (fields of
    :class:`~ppl_vae.config.TrainConfig`; ``model_kwargs`` and ``guide_kwargs`` are merged into
    the preset's, not put in their place).

    :param guide: by default the model's ``default_guide``.
    :param objective: by default the guide's ``default_objective``.
    :param synthetic: whether it trains on the embedded synthetic corpus (fewer epochs).
    :raises ValueError: for an unknown model or guide, a refused pairing, or a keyword the
        model's or guide's constructor does not take.
    """
    model_cls = model_class(model)
    guide_cls = guide_class(model, guide or model_cls.default_guide)
    objective_cls = objective_class(objective or guide_cls.default_objective)
    check_combination(guide_cls, objective_cls.name)
    fields: dict[str, Any] = {
        **COMMON,
        "epochs": EPOCHS["synthetic" if synthetic else "corpus"],
        "clip_norm": guide_cls.default_clip_norm,
    }
    if not objective_cls.elbo_climbing:  # early stopping watches the validation ELBO
        fields["patience"] = 0
    for layer in (BY_DATA[model_cls.data], BY_MODEL.get(model, {}), overrides):
        for key, value in layer.items():
            if key in ("model_kwargs", "guide_kwargs"):
                value = {**fields.get(key, {}), **value}
            fields[key] = value
    if not guide_cls.has_latent or not guide_cls.has_network:
        fields["guide_kwargs"] = {}
    if not objective_cls.annealable and "anneal" not in overrides:
        fields.pop("anneal", None)  # a preset's warm-up is for objectives with a KL term
    annealed = fields.get("anneal", "constant") != "constant" or fields.get("beta", 1.0) != 1.0
    if annealed and not objective_cls.annealable:
        annealable = [n for n, c in OBJECTIVE_CLASSES.items() if c.annealable]
        raise ValueError(
            f"the {objective_cls.name} objective cannot be combined with KL annealing (it has no "
            f"KL term to weight); use --anneal constant --beta 1, or one of "
            f"{', '.join(annealable)}"
        )
    if fields.get("anneal", "constant") == "constant":
        fields["anneal_epochs"] = 0.0
    elif "anneal_epochs" not in overrides:
        # a warm-up that outlasts half the run would leave too little of it at full weight
        # (or never reach it): a short run warms up over its first half
        fields["anneal_epochs"] = min(fields["anneal_epochs"], fields["epochs"] / 2)
    _check_kwargs(model_cls, f"the {model} model", fields.get("model_kwargs", {}))
    _check_kwargs(guide_cls, f"the {guide_cls.name} guide", fields.get("guide_kwargs", {}))
    return TrainConfig(model=model, guide=guide_cls.name, objective=objective_cls.name, **fields)


def _check_kwargs(cls: type, name: str, kwargs: dict) -> None:
    """``ValueError`` if the constructors of ``cls`` (following ``**kwargs`` up its bases) take
    no keyword of that name."""
    known: set[str] = set()
    for base in cls.__mro__:
        if "__init__" not in vars(base):
            continue
        params = inspect.signature(vars(base)["__init__"]).parameters
        known |= {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD}
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"{name} takes no option {', '.join(unknown)}")
