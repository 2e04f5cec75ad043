"""The Neural Variational Document Model.

Miao, Yu and Blunsom (2016), "Neural Variational Inference for Text Processing", ICML.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.models.bag_of_words import BagOfWordsModel


class NVDM(BagOfWordsModel):
    r"""NVDM's generative model of a bag of words.

    .. math::
        z \sim \mathcal N(0, I_K), \qquad
        \log p(x \mid z) = \sum_v x_v \log \operatorname{softmax}(R z + b)_v .

    Call it with a ``(batch, V)`` count matrix (see
    :class:`~ppl_vae.models.bag_of_words.BagOfWordsModel` for the sites and for generation).

    :param vocab_size: V.
    :param latent_dim: K (50 in the paper's 20 Newsgroups result).
    """

    #: the name under which configs and the command line know the model
    name = "nvdm"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "diagonal"
    #: ``p(z) = N(0, I)``: importance-sampled evaluation has a closed form but the expectation
    #: (:mod:`ppl_vae.evaluation.fast_documents`)
    standard_normal_prior = True

    def __init__(self, vocab_size: int, latent_dim: int = 50) -> None:
        super().__init__(vocab_size, latent_dim)
        self.decoder = nn.Linear(latent_dim, vocab_size)  # R z + b

    def prior(self, batch: int, like: torch.Tensor) -> dist.TorchDistribution:
        """``N(0, I_K)``."""
        return dist.Normal(like.new_zeros(batch, self.latent_dim), 1.0).to_event(1)
