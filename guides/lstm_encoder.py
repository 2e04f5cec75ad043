"""An LSTM inference network for sentence models.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL.
"""

from __future__ import annotations

import torch
from torch import nn

from ppl_vae.guides.sentence_gaussian import SentenceGaussianGuide


class LSTMEncoderGuide(SentenceGaussianGuide):
    r"""``q(z | x) = N(mu(x), diag sigma(x)^2)`` from the last hidden state of an LSTM.

    The LSTM reads each sentence's ``lengths`` tokens (its words and ``<eos>``), packed so that
    padding is never read; linear maps of its last hidden state give ``mu`` and ``log sigma``.
    The ``log sigma`` layer starts at zero (``q`` starts as ``N(mu, I)``) and ``log sigma`` is
    kept in ``[-10, 2]``, as in :class:`~ppl_vae.guides.DiagonalGaussianGuide`. Samples ``"z"`` in
    the plate ``"sentences"`` like :class:`~ppl_vae.models.SentenceVAE`, with the same
    arguments.
    """

    name = "lstm"
    module_name = "lstm_encoder"

    def build_encoder(self, embedding_dim: int, hidden_dim: int) -> int:
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        return hidden_dim

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The LSTM's last hidden state after each sentence's ``lengths`` tokens, ``(B, H)``."""
        h = self.final_states(tokens, lengths)  # h is in the batch's original order
        return h[-1]
