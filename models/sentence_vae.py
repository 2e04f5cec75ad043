"""The sentence VAE with an LSTM decoder.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.annealing import kl_annealing
from ppl_vae.distributions import WordCategorical
from ppl_vae.models.lstm_decoder import LSTMDecoder, length_mask, shift_right
from ppl_vae.params import register


class SentenceVAE(nn.Module):
    r"""Bowman et al.'s generative model of a sentence.

    .. math::
        z \sim \mathcal N(0, I_K), \qquad
        p(x \mid z) = \prod_{t=1}^{n+1} p(x_t \mid x_{<t}, z),

    where ``x_{n+1} = <eos>`` and the LSTM decoder starts from ``(h_0, c_0) = W z + b`` and, with
    ``z_every_step``, also reads ``z`` at every step. Word dropout (Bowman et al., section 3.3)
    replaces each decoder input but ``<bos>`` by ``<unk>`` with probability ``word_dropout``
    while training (``self.training``), weakening the decoder so that ``z`` is used; 1 gives the
    inputless decoder. ``dropout`` is ordinary dropout on the decoder's embeddings and LSTM
    outputs (training mode only); ``tie_embeddings`` shares the decoder's input embeddings with its
    output layer (see :class:`~ppl_vae.models.lstm_decoder.LSTMDecoder`). The defaults are the
    paper's Penn Treebank sizes.

    Call it with ``(tokens, lengths)`` from :meth:`~ppl_vae.data.sentences.SentenceCorpus.
    make_batch`. The latent site ``"z"`` has event shape ``(latent_dim,)``; the observed site
    ``"x"`` is a :class:`~ppl_vae.distributions.WordCategorical` over the ``(B, T)`` tokens, masked
    past each sentence's length and with event shape ``(T,)``, so its ``log_prob`` is one number
    per sentence. Both are inside the plate ``"sentences"``.
    """

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 13,
        embedding_dim: int = 353,
        hidden_dim: int = 191,
        word_dropout: float = 0.0,
        z_every_step: bool = True,
        unk_index: int = 3,
        bos_index: int = 1,
        pad_index: int = 0,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= word_dropout <= 1.0:
            raise ValueError(f"word_dropout must be in [0, 1], got {word_dropout}")
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        self.word_dropout = word_dropout
        self.z_every_step = z_every_step
        self.unk_index = unk_index
        self.bos_index = bos_index
        self.pad_index = pad_index
        self.decoder = LSTMDecoder(
            vocab_size,
            embedding_dim,
            hidden_dim,
            context_dim=latent_dim if z_every_step else 0,
            pad_index=pad_index,
            dropout=dropout,
            tie_embeddings=tie_embeddings,
        )
        self.init_state = nn.Linear(latent_dim, 2 * hidden_dim)  # z -> (h_0, c_0)

    def decoder_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """``<bos>`` + ``tokens[:, :-1]``, with word dropout applied in training mode."""
        inputs = shift_right(tokens, self.bos_index)
        if self.training and self.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < self.word_dropout
            drop[:, 0] = False  # <bos> is always seen
            inputs = inputs.masked_fill(drop, self.unk_index)
        return inputs

    def _state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = self.init_state(z).chunk(2, dim=-1)
        return h, c

    def decode_logits(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T, V)`` logits of ``p(x_t | x_{<t}, z)`` for the ``(B, T)`` targets ``tokens``
        (teacher forcing), given ``z`` of shape ``(B, latent_dim)``."""
        context = z if self.z_every_step else None
        logits, _ = self.decoder(self.decoder_inputs(tokens), self._state(z), context)
        return logits

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, annealing_factor: float = 1.0
    ) -> torch.Tensor:
        """Score the ``(B, T)`` ``tokens``; ``annealing_factor`` is the KL weight beta."""
        register(self, "sentence_vae")
        batch, steps = tokens.shape
        with pyro.plate("sentences", batch):
            with kl_annealing(annealing_factor):
                loc = tokens.new_zeros((batch, self.latent_dim), dtype=torch.get_default_dtype())
                z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
            logits = self.decode_logits(z, tokens)
            mask = length_mask(lengths, steps)
            pyro.sample("x", WordCategorical(logits).mask(mask).to_event(1), obs=tokens)
        return z

    @torch.no_grad()
    def generate(self, z: torch.Tensor, max_length: int, eos_index: int = 2) -> torch.Tensor:
        """Greedy decoding from ``z`` of shape ``(B, latent_dim)``.

        :returns: ``(B, L)`` int64 ids, ``L <= max_length``: each sentence's words and its
            ``<eos>`` (if produced within ``max_length`` steps), then ``<pad>``.
        """
        batch = z.shape[0]
        state = self._state(z)
        context = z if self.z_every_step else None
        inputs = torch.full((batch, 1), self.bos_index, dtype=torch.int64, device=z.device)
        done = torch.zeros(batch, dtype=torch.bool, device=z.device)
        out = []
        for _ in range(max_length):
            logits, state = self.decoder(inputs, state, context)
            word = logits[:, -1].argmax(-1)
            out.append(word.masked_fill(done, self.pad_index))
            done = done | (word == eos_index)
            if bool(done.all()):
                break
            inputs = word.unsqueeze(1)
        return torch.stack(out, dim=1) if out else torch.zeros(batch, 0, dtype=torch.int64)
