"""An LSTM inference network for sentence models.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ppl_vae.annealing import kl_annealing
from ppl_vae.guides.diagonal_gaussian import LOG_SCALE_MIN


class LSTMEncoderGuide(nn.Module):
    r"""``q(z | x) = N(mu(x), diag sigma(x)^2)`` from the last hidden state of an LSTM.

    The LSTM reads each sentence's ``lengths`` tokens (its words and ``<eos>``), packed so that
    padding is never read; linear maps of its last hidden state give ``mu`` and ``log sigma``.
    The ``log sigma`` layer starts at zero (``q`` starts as ``N(mu, I)``) and ``log sigma`` is
    floored at ``-10``, as in :class:`~ppl_vae.guides.DiagonalGaussianGuide`. Samples ``"z"`` in
    the plate ``"sentences"`` like :class:`~ppl_vae.models.SentenceVAE`, with the same
    arguments.
    """

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 13,
        embedding_dim: int = 353,
        hidden_dim: int = 191,
        pad_index: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.loc = nn.Linear(hidden_dim, latent_dim)
        self.log_scale = nn.Linear(hidden_dim, latent_dim)
        nn.init.zeros_(self.log_scale.weight)
        nn.init.zeros_(self.log_scale.bias)

    def encode(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` of ``q(z | x)``, each ``(B, latent_dim)``."""
        packed = pack_padded_sequence(
            self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h, _) = self.lstm(packed)  # h is in the batch's original order
        h = h[-1]
        return self.loc(h), self.log_scale(h).clamp(min=LOG_SCALE_MIN).exp()

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, annealing_factor: float = 1.0
    ) -> torch.Tensor:
        pyro.module("lstm_encoder", self)
        loc, scale = self.encode(tokens, lengths)
        with pyro.plate("sentences", tokens.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.Normal(loc, scale).to_event(1))
