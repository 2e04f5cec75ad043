"""A sigmoid belief network document model with binary latent units.

Mnih and Gregor (2014), "Neural Variational Inference and Learning in Belief Networks", ICML;
the document model of Miao et al. (2016)'s Table 1 ("SBN", 20 Newsgroups perplexity 909).
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


class SigmoidBeliefNetwork(nn.Module):
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
    #: what it reads: ``"documents"`` (bags of words) or ``"sentences"`` (token sequences)
    data = "documents"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "bernoulli"

    def __init__(self, vocab_size: int, latent_dim: int = 50) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        self.prior_logits = nn.Parameter(torch.zeros(latent_dim))
        self.decoder = nn.Linear(latent_dim, vocab_size)

    def init_from_corpus(self, word_counts: torch.Tensor) -> None:
        """Start ``b`` at the log unigram frequencies (add-one smoothed) of the training words."""
        with torch.no_grad():
            self.decoder.bias.copy_(unigram_logits(word_counts))

    def forward(
        self,
        x: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        lengths: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Score the count matrix ``x``, or with ``x=None`` generate documents of the given
        ``lengths`` from the prior (as :meth:`NVDM.forward <ppl_vae.models.NVDM.forward>`)."""
        register(self, "sbn")
        total_count = document_lengths(x, lengths).to(self.decoder.bias.device)
        batch = total_count.shape[0]
        with pyro.plate("documents", batch):
            with kl_annealing(annealing_factor):
                prior = dist.Bernoulli(logits=self.prior_logits.expand(batch, self.latent_dim))
                z = pyro.sample("z", prior.to_event(1))
            pyro.sample("x", BagOfWords(self.decoder(z), total_count=total_count), obs=x)
        return z

    def topic_weights(self) -> torch.Tensor:
        """``R`` as ``(V, K)``: the words each binary unit switches on."""
        return self.decoder.weight.detach()
