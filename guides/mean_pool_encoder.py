"""A bag-of-embeddings inference network for sentence models.

A baseline for the LSTM encoder of Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016),
"Generating Sentences from a Continuous Space", CoNLL: the mean of the word embeddings, as in
the deep averaging network of Iyyer, Manjunatha, Boyd-Graber and Daume III (2015), "Deep
Unordered Composition Rivals Syntactic Methods for Text Classification", ACL. It ignores word
order, so whatever it encodes about the sentence is about which words it uses.
"""

from __future__ import annotations

import torch

from ppl_vae.guides.sentence_gaussian import SentenceGaussianGuide
from ppl_vae.ops.count_input import mlp


class MeanPoolEncoderGuide(SentenceGaussianGuide):
    r"""``q(z | x) = N(mu(x), diag sigma(x)^2)`` from the mean word embedding of the sentence.

    The embeddings of each sentence's ``lengths`` tokens (its words and ``<eos>``) are averaged,
    masked so that padding never changes the result, then passed through one ReLU layer of
    ``hidden_dim`` units and mapped linearly to ``mu`` and ``log sigma``, with the
    initialization and floor of :class:`~ppl_vae.guides.LSTMEncoderGuide`. Samples ``"z"`` in
    the plate ``"sentences"`` like :class:`~ppl_vae.models.SentenceVAE`, with the same
    arguments.

    The parameters are :class:`~ppl_vae.guides.sentence_gaussian.SentenceGaussianGuide`'s.
    """

    name = "mean-pool"
    module_name = "mean_pool_encoder"

    def build_encoder(self, embedding_dim: int, hidden_dim: int) -> int:
        self.body = mlp([embedding_dim, hidden_dim])
        return hidden_dim

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The hidden layer applied to each sentence's mean embedding, ``(B, hidden_dim)``."""
        lengths = lengths.to(tokens.device)
        mask = torch.arange(tokens.shape[1], device=tokens.device) < lengths.unsqueeze(1)
        embedded = self.embedding(tokens).masked_fill(~mask.unsqueeze(-1), 0.0)
        mean = embedded.sum(1) / lengths.clamp(min=1).unsqueeze(1).to(embedded.dtype)
        return self.body(mean)
