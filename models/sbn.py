"""A sigmoid belief network document model with binary latent units.

Mnih and Gregor (2014), "Neural Variational Inference and Learning in Belief Networks", ICML;
the document model of Miao et al. (2016)'s Table 1 ("SBN", 20 Newsgroups perplexity 909).
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.models.bag_of_words import BagOfWordsModel


class SigmoidBeliefNetwork(BagOfWordsModel):
    r"""``z_k ~ Bernoulli(sigmoid(a_k))`` and ``log p(x | z) = sum_v x_v log softmax(R z + b)_v``.

    The latent site ``"z"`` has event shape ``(latent_dim,)`` with values in {0, 1}; like
    :class:`~ppl_vae.models.NVDM`, the observed site is ``"x"`` in the plate ``"documents"``.
    Gradients through discrete ``z`` need a score-function estimator: train it with
    :class:`~pyro.infer.TraceGraph_ELBO` and a guide that carries a baseline (NVIL), such as
    :class:`~ppl_vae.guides.BernoulliGuide`.

    :param vocab_size: V.
    :param latent_dim: number of binary units (50 in Mnih and Gregor's document model).
    """

    #: the name under which configs and the command line know the model
    name = "sbn"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "bernoulli"

    def __init__(self, vocab_size: int, latent_dim: int = 50) -> None:
        super().__init__(vocab_size, latent_dim)
        self.prior_logits = nn.Parameter(torch.zeros(latent_dim))
        self.decoder = nn.Linear(latent_dim, vocab_size)

    def prior(self, batch: int, like: torch.Tensor) -> dist.TorchDistribution:
        """Independent Bernoulli units with learned logits ``a``."""
        return dist.Bernoulli(logits=self.prior_logits.expand(batch, self.latent_dim)).to_event(1)
