"""What the document models share: a latent ``z`` per document, and words drawn from
``softmax(R z + b)``."""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.distributions import BagOfWords, document_lengths, unigram_logits
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


class BagOfWordsModel(nn.Module):
    r"""Base of the document models: ``z ~ p(z)`` (the subclass's :meth:`prior`) and
    ``log p(x | z) = sum_v x_v log softmax(R z + b)_v`` with ``R z + b`` = ``self.decoder(z)``.

    The latent site ``"z"`` (event shape ``(latent_dim,)``) and the observed site ``"x"`` are
    inside the plate ``"documents"``. Any guide that takes the same arguments and samples
    ``"z"`` in that plate can be paired with it in :class:`~pyro.infer.SVI`. A subclass creates
    ``self.decoder`` (an ``nn.Linear(latent_dim, V)``) and defines :meth:`prior`.
    """

    data = "documents"

    def __init__(self, vocab_size: int, latent_dim: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim

    def prior(self, batch: int, like: torch.Tensor) -> dist.TorchDistribution:
        """``p(z)`` for ``batch`` documents, with event shape ``(latent_dim,)`` (``like`` gives
        the dtype and device)."""
        raise NotImplementedError

    def word_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``R z + b``: the unnormalized log word probabilities given ``z``."""
        return self.decoder(z)

    def likelihood(self, z: torch.Tensor, total_count: torch.Tensor) -> BagOfWords:
        """``p(x | z)``, the ``"x"`` site's distribution, for documents of ``total_count`` words."""
        return BagOfWords(self.word_logits(z), total_count=total_count)

    def init_from_corpus(self, corpus) -> None:
        """Start ``b`` at the log unigram frequencies (add-one smoothed) of the training words
        of ``corpus`` (a :class:`~ppl_vae.data.BowCorpus`), so that ``z = 0`` already gives the
        background distribution."""
        with torch.no_grad():
            self.decoder.bias.copy_(unigram_logits(corpus.word_totals()))

    def forward(
        self,
        x: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        lengths: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Score the ``(batch, V)`` count matrix ``x``; ``annealing_factor`` is the KL weight
        beta. With ``x=None``, generate documents of the given ``lengths`` (words per document)
        from the prior instead, e.g. ``Predictive(model, num_samples=10)(None, lengths=[50,
        200])``. Returns ``z``."""
        register(self, self.name)
        total_count = document_lengths(x, lengths).to(next(self.parameters()).device)
        batch = total_count.shape[0]
        with pyro.plate("documents", batch):
            with kl_annealing(annealing_factor):
                z = pyro.sample("z", self.prior(batch, total_count))
            pyro.sample("x", self.likelihood(z, total_count), obs=x)
        return z

    def topic_weights(self) -> torch.Tensor:
        """``R`` as ``(V, K)``: column k is the direction of latent dimension k in word space."""
        return self.decoder.weight.detach()
