"""The sentence VAE with an LSTM decoder.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.distributions import WordCategorical
from ppl_vae.models.lstm_decoder import LSTMDecoder, generated_batch, length_mask, shift_right
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


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

    #: the name under which configs and the command line know the model
    name = "sentence-vae"
    #: what it reads: ``"documents"`` (bags of words) or ``"sentences"`` (token sequences)
    data = "sentences"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "lstm"
    #: ``p(z) = N(0, I)``: importance-sampled evaluation may draw the particles in batches
    #: (:mod:`ppl_vae.evaluation.particles`)
    standard_normal_prior = True

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
        eos_index: int = 2,
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
        self.eos_index = eos_index
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
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        max_length: int | None = None,
        num_sentences: int = 1,
    ) -> torch.Tensor:
        """Score the ``(B, T)`` ``tokens`` (each sentence's first ``lengths`` ids: its words and
        ``<eos>``); ``annealing_factor`` is the KL weight beta. Returns ``z``.

        With ``tokens=None``, generate ``num_sentences`` sentences of at most ``max_length``
        ids from the prior instead: ``z ~ N(0, I)``, then ``x ~ p(x | z)`` word by word. The
        site ``"x"`` then holds the ``(num_sentences, max_length)`` generated ids (``<pad>``
        after ``<eos>``), scored by the same
        likelihood, so that ``Predictive(model, num_samples=5)(max_length=30)`` returns them.
        Generate in eval mode (``model.eval()``): word dropout would change the scores.
        """
        register(self, "sentence_vae")
        batch = num_sentences if tokens is None else tokens.shape[0]
        with pyro.plate("sentences", batch):
            with kl_annealing(annealing_factor):
                loc = self.init_state.bias.new_zeros((batch, self.latent_dim))
                z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
            if tokens is None:
                context = z if self.z_every_step else None
                tokens, lengths = generated_batch(
                    self.decoder, batch, max_length, self.bos_index, self.eos_index,
                    self._state(z), context,
                )  # fmt: skip
            pyro.sample("x", self.likelihood(z, tokens, lengths), obs=tokens)
        return z

    def likelihood(
        self, z: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> dist.TorchDistribution:
        """``p(x | z)``, the ``"x"`` site's distribution over the ``(B, T)`` ``tokens`` (teacher
        forcing), masked past each sentence's ``lengths``: one log-probability per sentence."""
        logits = self.decode_logits(z, tokens)
        mask = length_mask(lengths, tokens.shape[1])
        return WordCategorical(logits).mask(mask).to_event(1)

    def decode(
        self, z: torch.Tensor, max_length: int, temperature: float | None = 1.0
    ) -> torch.Tensor:
        """Sentences decoded from ``z`` of shape ``(B, latent_dim)``: sampled from
        ``p(x | z)`` (logits divided by ``temperature``), or greedy with ``temperature=None``.

        :returns: ``(B, L)`` int64 ids, ``L <= max_length``: each sentence's words and its
            ``<eos>`` (if produced within ``max_length`` steps), then ``<pad>``.
        """
        context = z if self.z_every_step else None
        return self.decoder.decode(
            z.shape[0], max_length, self.bos_index, self.eos_index, self._state(z), context,
            temperature,
        )  # fmt: skip

    def generate(self, z: torch.Tensor, max_length: int) -> torch.Tensor:
        """Greedy decoding from ``z`` (:meth:`decode` with ``temperature=None``)."""
        return self.decode(z, max_length, temperature=None)
