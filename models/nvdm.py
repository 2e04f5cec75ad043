"""The Neural Variational Document Model.

Miao, Yu and Blunsom (2016), "Neural Variational Inference for Text Processing", ICML.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.distributions import BagOfWords, document_lengths, unigram_logits
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


class NVDM(nn.Module):
    r"""NVDM's generative model of a bag of words.

    .. math::
        z \sim \mathcal N(0, I_K), \qquad
        \log p(x \mid z) = \sum_v x_v \log \operatorname{softmax}(R z + b)_v .

    Call it with a ``(batch, V)`` count matrix. The latent site is ``"z"`` with event shape
    ``(latent_dim,)`` and the observed site is ``"x"``, both inside the plate ``"documents"``.
    Any guide that takes the same arguments and samples ``"z"`` in that plate can be paired with
    it in :class:`~pyro.infer.SVI`.

    :param vocab_size: V.
    :param latent_dim: K (50 in the paper's 20 Newsgroups result).
    """

    #: the name under which configs and the command line know the model
    name = "nvdm"
    #: what it reads: ``"documents"`` (bags of words) or ``"sentences"`` (token sequences)
    data = "documents"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "diagonal"

    def __init__(self, vocab_size: int, latent_dim: int = 50) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        self.decoder = nn.Linear(latent_dim, vocab_size)  # R z + b

    def word_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``R z + b``: the unnormalized log word probabilities given ``z``."""
        return self.decoder(z)

    def init_from_corpus(self, word_counts: torch.Tensor) -> None:
        """Start ``b`` at the log unigram frequencies (add-one smoothed) of the training words,
        so that ``z = 0`` already gives the background distribution."""
        with torch.no_grad():
            self.decoder.bias.copy_(unigram_logits(word_counts))

    def forward(
        self,
        x: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        lengths: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Score the count matrix ``x``; ``annealing_factor`` is the KL weight beta. With
        ``x=None``, generate documents of the given ``lengths`` (words per document) from the
        prior instead, e.g. ``Predictive(model, num_samples=10)(None, lengths=[50, 200])``.
        Returns ``z``."""
        register(self, "nvdm")
        total_count = document_lengths(x, lengths).to(self.decoder.bias.device)
        batch = total_count.shape[0]
        with pyro.plate("documents", batch):
            with kl_annealing(annealing_factor):
                prior = dist.Normal(total_count.new_zeros(batch, self.latent_dim), 1.0)
                z = pyro.sample("z", prior.to_event(1))
            pyro.sample("x", BagOfWords(self.word_logits(z), total_count=total_count), obs=x)
        return z

    def topic_weights(self) -> torch.Tensor:
        """``R`` as ``(V, K)``: column k is the direction of latent dimension k in word space."""
        return self.decoder.weight.detach()
