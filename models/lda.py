r"""Latent Dirichlet allocation with amortized inference.

Blei, Ng and Jordan (2003), "Latent Dirichlet Allocation", JMLR; the amortized (autoencoding)
inference of Srivastava and Sutton (2017), "Autoencoding Variational Inference for Topic
Models", ICLR, here with the Dirichlet's own reparameterized sampler rather than their
logistic-normal approximation. The NVDM paper's 20 Newsgroups table (Miao et al., 2016) lists
LDA-50 at 1091 and LDA-200 at 1058.

Each document has topic proportions ``theta ~ Dirichlet(alpha)``; its words are drawn from the
mixture of topics ``p(w | theta) = sum_k theta_k beta_kw``, so

.. math::
    \log p(x \mid \theta) = \sum_v x_v \log \big(\theta^\top \beta\big)_v

(the mixture-of-topics likelihood of LDA with the per-word topic assignments summed out, not
ProdLDA's product of experts). The topics ``beta = softmax(topic_logits)`` are a point estimate
(no prior on them).
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.distributions import unigram_logits
from ppl_vae.models.bag_of_words import BagOfWordsModel


class LDA(BagOfWordsModel):
    r"""LDA as a Pyro model: the latent site ``"z"`` holds ``theta`` (``Dirichlet(alpha)``,
    event shape ``(K,)``) and ``"x"`` the observed counts, both in the plate ``"documents"``, as
    in the other document models; :class:`~ppl_vae.guides.DirichletGuide` samples ``"z"``.

    :param vocab_size: V.
    :param latent_dim: K, the number of topics.
    :param alpha: the symmetric Dirichlet concentration of ``theta`` (default
        :data:`DEFAULT_ALPHA`).
    """

    name = "lda"
    default_guide = "dirichlet"

    def __init__(self, vocab_size: int, latent_dim: int = 50, alpha: float | None = None) -> None:
        super().__init__(vocab_size, latent_dim)
        self.alpha = float(alpha if alpha is not None else DEFAULT_ALPHA)
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        self.topic_logits = nn.Parameter(0.01 * torch.randn(latent_dim, vocab_size))

    def prior(self, batch: int, like: torch.Tensor) -> dist.TorchDistribution:
        """``Dirichlet(alpha, ..., alpha)``."""
        return dist.Dirichlet(like.new_full((batch, self.latent_dim), self.alpha))

    def topics(self) -> torch.Tensor:
        """``beta``, ``(K, V)``: each topic's word distribution."""
        return torch.softmax(self.topic_logits, -1)

    def word_logits(self, theta: torch.Tensor) -> torch.Tensor:
        """``log(theta^T beta)``: the document's word log-probabilities (already normalized)."""
        return torch.log((theta @ self.topics()).clamp_min(torch.finfo(theta.dtype).tiny))

    def init_from_corpus(self, corpus) -> None:
        """Seed each topic with a few random training documents of ``corpus`` (a
        :class:`~ppl_vae.data.BowCorpus`; torch's RNG), as lda-c's ``seeded`` start does (Blei,
        Ng and Jordan, 2003): topic k starts at the word frequencies of
        :data:`SEED_DOCUMENTS` documents, smoothed towards the corpus's unigram distribution.
        From a symmetric start, amortized LDA often merges topics for good."""
        unigram = torch.softmax(unigram_logits(corpus.word_totals()), -1)
        picks = torch.randint(len(corpus), (self.latent_dim, SEED_DOCUMENTS))
        with torch.no_grad():
            for k, rows in enumerate(picks):
                counts = corpus.make_batch(rows.numpy(), "cpu")[0].sum(0).double()
                seeded = counts / counts.sum().clamp_min(1.0)
                probs = (seeded + SEED_SMOOTHING * unigram) / (1 + SEED_SMOOTHING)
                self.topic_logits[k] = probs.log().to(self.topic_logits)

    def topic_weights(self) -> torch.Tensor:
        """``log beta`` as ``(V, K)``: column k ranks the words of topic k."""
        return torch.log_softmax(self.topic_logits.detach(), -1).T


#: documents that seed each topic, and the weight of the unigram distribution mixed in
SEED_DOCUMENTS, SEED_SMOOTHING = 2, 1.0

#: a sparse prior on topic proportions, below 1 as usual for LDA (Griffiths and Steyvers use
#: 50 / K; amortized LDA works best with small values, Srivastava and Sutton use 0.02)
DEFAULT_ALPHA = 0.1
