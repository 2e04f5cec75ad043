"""The LSTM language model: the sentence VAE's decoder with no latent variable.

The baseline of Bowman et al. (2016), "Generating Sentences from a Continuous Space", CoNLL.
"""

from __future__ import annotations

import pyro
import torch
from torch import nn

from ppl_vae.distributions import WordCategorical
from ppl_vae.models.lstm_decoder import LSTMDecoder, generated_batch, length_mask, shift_right
from ppl_vae.ops.params import register


class RNNLM(nn.Module):
    r"""``p(x) = prod_t p(x_t | x_{<t})`` with an LSTM started from zeros.

    A Pyro model with the observed site ``"x"`` only (masked past each sentence's length, event
    shape ``(T,)``) in the plate ``"sentences"``; it takes the sentence VAE's arguments, and
    ``annealing_factor`` is accepted and ignored. Pair it with an empty guide for SVI, or use
    :meth:`nll` for the exact likelihood.
    """

    #: the name under which configs and the command line know the model
    name = "rnnlm"
    #: what it reads: ``"documents"`` (bags of words) or ``"sentences"`` (token sequences)
    data = "sentences"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "none"

    @classmethod
    def build(cls, vocab_size: int, latent_dim: int = 0, **kwargs) -> RNNLM:
        """The model for a config: it has no latent variable, so ``latent_dim`` is ignored."""
        return cls(vocab_size, **kwargs)

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 353,
        hidden_dim: int = 191,
        bos_index: int = 1,
        pad_index: int = 0,
        eos_index: int = 2,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.bos_index = bos_index
        self.pad_index = pad_index
        self.eos_index = eos_index
        self.decoder = LSTMDecoder(
            vocab_size,
            embedding_dim,
            hidden_dim,
            pad_index=pad_index,
            dropout=dropout,
            tie_embeddings=tie_embeddings,
        )

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T, V)`` logits of ``p(x_t | x_{<t})`` for the ``(B, T)`` targets ``tokens``."""
        logits, _ = self.decoder(shift_right(tokens, self.bos_index))
        return logits

    def forward(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        max_length: int | None = None,
        num_sentences: int = 1,
    ) -> None:
        """Score the ``(B, T)`` ``tokens`` (``annealing_factor`` is accepted, for the guides'
        signature, and unused: there is no latent variable); or with ``tokens=None``, generate
        ``num_sentences`` sentences of at most ``max_length`` ids into the site ``"x"``, as
        :meth:`SentenceVAE.forward <ppl_vae.models.SentenceVAE.forward>` does."""
        register(self, "rnnlm")
        if tokens is None:
            tokens, lengths = generated_batch(
                self.decoder, num_sentences, max_length, self.bos_index, self.eos_index
            )
        batch, steps = tokens.shape
        with pyro.plate("sentences", batch):
            pyro.sample(
                "x",
                WordCategorical(self.logits(tokens)).mask(length_mask(lengths, steps)).to_event(1),
                obs=tokens,
            )

    def nll(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``-log p(x)`` per sentence, ``(B,)``, over its ``lengths`` tokens (``<eos>`` in)."""
        logp = torch.log_softmax(self.logits(tokens), dim=-1)
        token_logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return -(token_logp * length_mask(lengths, tokens.shape[1])).sum(-1)
