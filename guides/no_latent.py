"""The guide of a model without latent variables."""

from __future__ import annotations

from ppl_vae.guides.base import Guide


class NoLatentGuide(Guide):
    """Samples nothing: for a model whose only sample site is observed (e.g.
    :class:`~ppl_vae.models.RNNLM`, :class:`~ppl_vae.models.DocNADE`), the ELBO is then the
    exact log-likelihood, and any objective or evaluation here works unchanged."""

    name = "none"
    fits = ("rnnlm", "docnade")
    has_latent = False
    default_objective = "trace"

    def __init__(self, vocab_size: int = 0, latent_dim: int = 0, **_: object) -> None:
        super().__init__()

    def forward(self, *args, **kwargs) -> None:
        return None
