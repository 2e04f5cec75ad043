"""Models and guides by name, so a saved config can rebuild them."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ppl_vae.config import TrainConfig
from ppl_vae.guides import (
    BernoulliGuide,
    BiLSTMEncoderGuide,
    DiagonalGaussianGuide,
    FullCovarianceGaussianGuide,
    IAFGuide,
    LSTMEncoderGuide,
    MeanPoolEncoderGuide,
    NoLatentGuide,
    ScoreFunctionGaussianGuide,
    SemiAmortizedGuide,
)
from ppl_vae.models import NVDM, RNNLM, SentenceVAE, SigmoidBeliefNetwork


def _rnnlm(vocab_size: int, latent_dim: int, **kwargs) -> RNNLM:
    return RNNLM(vocab_size, **kwargs)  # no latent variable


def _one_layer(
    vocab_size: int, latent_dim: int, hidden_sizes=(500, 500), **kwargs
) -> DiagonalGaussianGuide:
    """The lecture's "one-layer feedforward networks" for mu and sigma: the first hidden size."""
    return DiagonalGaussianGuide(
        vocab_size, latent_dim, hidden_sizes=tuple(hidden_sizes)[:1], **kwargs
    )


MODELS: dict[str, Callable[..., nn.Module]] = {
    "nvdm": NVDM,
    "sbn": SigmoidBeliefNetwork,
    "sentence-vae": SentenceVAE,
    "rnnlm": _rnnlm,
}
GUIDES: dict[str, dict[str, Callable[..., nn.Module]]] = {
    "nvdm": {
        "diagonal": DiagonalGaussianGuide,
        "diagonal-1layer": _one_layer,
        "full-covariance": FullCovarianceGaussianGuide,
        "iaf": IAFGuide,
        "semi-amortized": SemiAmortizedGuide,
        "score-function": ScoreFunctionGaussianGuide,
    },
    "sbn": {"bernoulli": BernoulliGuide},
    "sentence-vae": {
        "lstm": LSTMEncoderGuide,
        "bilstm": BiLSTMEncoderGuide,
        "mean-pool": MeanPoolEncoderGuide,
    },
    "rnnlm": {"none": NoLatentGuide},
}
DEFAULT_GUIDE = {"nvdm": "diagonal", "sbn": "bernoulli", "sentence-vae": "lstm", "rnnlm": "none"}
DEFAULT_OBJECTIVE = {
    "nvdm": "meanfield",
    "sbn": "nvil",
    "sentence-vae": "meanfield",
    "rnnlm": "trace",
}
SENTENCE_MODELS = ("sentence-vae", "rnnlm")
# guides whose gradients need a particular objective: the score-function guide's learned
# baseline is only used by TraceGraph_ELBO
GUIDE_OBJECTIVE = {"score-function": "nvil"}
# gradient clipping by default: the score-function estimator's rare huge learning signals
# (log p(x | z) is hundreds of nats on 20News) otherwise send the encoder to NaN
GUIDE_CLIP_NORM = {"score-function": 10.0}
# objectives that cannot train a guide, and why
_NO_ANALYTIC_KL = "free bits clamps an analytic KL per latent dimension, which {guide} lacks"
_NOT_REPARAMETERIZED = (
    "{objective} needs a reparameterized guide; {guide} samples z by the score function"
)
UNSUPPORTED = {
    ("iaf", "free-bits"): _NO_ANALYTIC_KL,
    ("full-covariance", "free-bits"): _NO_ANALYTIC_KL,
    ("score-function", "meanfield"): _NOT_REPARAMETERIZED + " (use nvil or trace)",
    ("score-function", "free-bits"): _NOT_REPARAMETERIZED + " (use nvil or trace)",
    ("score-function", "iwae"): _NOT_REPARAMETERIZED + " (RenyiELBO gives it no gradient)",
    ("bernoulli", "meanfield"): _NOT_REPARAMETERIZED + " (use nvil)",
    ("bernoulli", "free-bits"): _NOT_REPARAMETERIZED + " (use nvil)",
    ("bernoulli", "iwae"): _NOT_REPARAMETERIZED + " (RenyiELBO gives it no gradient; use rws)",
    ("none", "wake-sleep"): "{objective} fits an inference network, and the RNNLM has no latent",
    ("none", "rws"): "{objective} fits an inference network, and the RNNLM has no latent",
}


def check_combination(guide: str, objective: str) -> None:
    """Raise ``ValueError`` with the reason if ``objective`` cannot train ``guide``."""
    reason = UNSUPPORTED.get((guide, objective))
    if reason is not None:
        raise ValueError(
            f"the {guide} guide cannot be trained with the {objective} objective: "
            + reason.format(guide=guide, objective=objective)
        )


# guides that run the model themselves (per-example refinement), and so are built with it
NEEDS_MODEL = ("semi-amortized",)


def build(config: TrainConfig, vocab_size: int) -> tuple[nn.Module, nn.Module]:
    """The model and guide named in ``config``, freshly initialized."""
    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; choose from {', '.join(MODELS)}")
    guides = GUIDES[config.model]
    if config.guide not in guides:
        raise ValueError(
            f"guide {config.guide!r} does not fit model {config.model!r}; "
            f"choose from {', '.join(guides)}"
        )
    check_combination(config.guide, config.objective)
    model = MODELS[config.model](vocab_size, config.latent_dim, **config.model_kwargs)
    extra = {"model": model} if config.guide in NEEDS_MODEL else {}
    guide = guides[config.guide](vocab_size, config.latent_dim, **config.guide_kwargs, **extra)
    return model, guide
