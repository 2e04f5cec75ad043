"""A bidirectional LSTM inference network for sentence models.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL, encode a sentence with the last state of a left-to-right LSTM, whose
summary is dominated by the sentence's end. A bidirectional encoder (Schuster and Paliwal, 1997,
"Bidirectional Recurrent Neural Networks", IEEE Transactions on Signal Processing) also reads it
right to left, so both ends are close to the summary.
"""

from __future__ import annotations

import torch
from torch import nn

from ppl_vae.guides.sentence_gaussian import SentenceGaussianGuide


class BiLSTMEncoderGuide(SentenceGaussianGuide):
    r"""``q(z | x) = N(mu(x), diag sigma(x)^2)`` from the final states of a bidirectional LSTM.

    The forward LSTM reads each sentence's ``lengths`` tokens (its words and ``<eos>``) left to
    right and the backward LSTM reads them right to left, starting at the sentence's own last
    token; the sequences are packed, so padding is never read. The concatenation of the two
    final hidden states (``2 * hidden_dim`` features) is mapped linearly to ``mu`` and
    ``log sigma``, with the initialization and floor of
    :class:`~ppl_vae.guides.LSTMEncoderGuide`. Samples ``"z"`` in the plate ``"sentences"`` like
    :class:`~ppl_vae.models.SentenceVAE`, with the same arguments.

    The parameters are :class:`~ppl_vae.guides.sentence_gaussian.SentenceGaussianGuide`'s.
    """

    name = "bilstm"
    module_name = "bilstm_encoder"

    def build_encoder(self, embedding_dim: int, hidden_dim: int) -> int:
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        return 2 * hidden_dim

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[h_forward; h_backward]``, ``(B, 2 H)``: the forward LSTM's state after each
        sentence's last token and the backward LSTM's state after its first."""
        h = self.final_states(tokens, lengths)  # (2, B, H): forward, backward; in the batch's order
        return torch.cat([h[-2], h[-1]], dim=-1)
