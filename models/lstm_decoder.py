"""The LSTM sentence decoder shared by the sentence VAE and the RNN language model.

Batches follow :mod:`ppl_vae.data.sentences`: ``tokens`` is ``(B, T)`` with each sentence's
words, then ``<eos>``, then ``<pad>``; ``lengths`` counts the predicted tokens (``<eos>``
included). The decoder reads ``<bos>, x_1, ..., x_{T-1}`` and predicts ``x_1, ..., x_T``.
Being left to right, its prediction at step t never depends on later inputs, so padding cannot
change a sentence's log-likelihood.
"""

from __future__ import annotations

import torch
from torch import nn


def shift_right(tokens: torch.Tensor, bos_index: int) -> torch.Tensor:
    """``<bos>`` followed by ``tokens[:, :-1]``: the decoder's inputs for targets ``tokens``."""
    bos = tokens.new_full((tokens.shape[0], 1), bos_index)
    return torch.cat([bos, tokens[:, :-1]], dim=1)


def length_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``(B, steps)`` bool, True at the positions ``t < lengths[b]``."""
    return torch.arange(steps, device=lengths.device) < lengths.unsqueeze(-1)


class LSTMDecoder(nn.Module):
    """Embedding, a one-layer LSTM and a linear map to the vocabulary.

    :param context_dim: width of a vector concatenated to every input embedding (the sentence
        VAE's ``z``); 0 for none.
    :param dropout: dropout on the input embeddings and on the LSTM's outputs, in training mode
        only (Zaremba, Sutskever and Vinyals, 2014: dropout on the non-recurrent connections).
    :param tie_embeddings: use the input embedding matrix as the output layer's weights (Press
        and Wolf, 2017, "Using the Output Embedding to Improve Language Models"; Inan, Khosravi
        and Socher, 2017), with a linear projection from the LSTM's output to the embedding
        width when the two differ. The embeddings then start uniform in (-0.1, 0.1), as output
        weights should, rather than standard normal.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        context_dim: int = 0,
        pad_index: int = 0,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.vocab_size = vocab_size
        self.hidden_dim = hidden_dim
        self.context_dim = context_dim
        self.tie_embeddings = tie_embeddings
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(embedding_dim + context_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        if tie_embeddings:
            # one weight matrix, registered once: no duplicate entries in state_dict, in the
            # param store or in weight averaging
            with torch.no_grad():
                self.embedding.weight.uniform_(-0.1, 0.1)
                self.embedding.weight[pad_index].zero_()
            self.projection = (
                nn.Linear(hidden_dim, embedding_dim) if hidden_dim != embedding_dim else None
            )
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.output = nn.Linear(hidden_dim, vocab_size)

    def vocabulary_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Logits ``(..., V)`` from LSTM outputs ``(..., hidden_dim)`` (dropout not applied)."""
        if not self.tie_embeddings:
            return self.output(out)
        if self.projection is not None:
            out = self.projection(out)
        return nn.functional.linear(out, self.embedding.weight, self.output_bias)

    def forward(
        self,
        inputs: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        context: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits ``(B, T, V)`` for input ids ``(B, T)``, and the final ``(h, c)``.

        :param state: initial ``(h, c)``, each ``(B, hidden_dim)``; zeros if None.
        :param context: ``(B, context_dim)``, appended to the input at every step.
        """
        x = self.dropout(self.embedding(inputs))
        if self.context_dim:
            if context is None:
                raise ValueError("this decoder needs a context vector at every step")
            x = torch.cat([x, context.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)
        if state is not None:
            state = (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous())
        out, (h, c) = self.lstm(x, state)
        return self.vocabulary_logits(self.dropout(out)), (h.squeeze(0), c.squeeze(0))

    @torch.no_grad()
    def decode(
        self,
        batch: int,
        max_length: int,
        bos_index: int,
        eos_index: int,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        context: torch.Tensor | None = None,
        temperature: float | None = 1.0,
    ) -> torch.Tensor:
        """Decode ``batch`` sentences word by word from ``<bos>``: ancestral sampling of
        ``x_t ~ p(x_t | x_{<t})`` with the logits divided by ``temperature``, or the most
        probable word with ``temperature=None`` (greedy), until ``<eos>`` or ``max_length``.
        ``<pad>`` and ``<bos>`` are never targets, so never generated.

        :returns: ``(B, L)`` int64 ids, ``L <= max_length``: each sentence's words and its
            ``<eos>`` (if produced within ``max_length`` steps), then ``<pad>``.
        """
        if temperature is not None and temperature <= 0:
            raise ValueError("temperature must be > 0 (use greedy decoding for the limit)")
        pad_index = self.embedding.padding_idx
        device = self.embedding.weight.device
        inputs = torch.full((batch, 1), bos_index, dtype=torch.int64, device=device)
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        out = []
        for _ in range(max_length):
            logits, state = self(inputs, state, context)
            step = logits[:, -1].clone()
            step[:, [pad_index, bos_index]] = -torch.inf
            word = (
                step.argmax(-1)
                if temperature is None
                else torch.distributions.Categorical(logits=step / temperature).sample()
            )
            out.append(word.masked_fill(done, pad_index))
            done = done | (word == eos_index)
            if bool(done.all()):
                break
            inputs = word.unsqueeze(1)
        return torch.stack(out, dim=1) if out else torch.zeros(batch, 0, dtype=torch.int64)


def generated_batch(
    decoder: LSTMDecoder,
    batch: int,
    max_length: int | None,
    bos_index: int,
    eos_index: int,
    state: tuple[torch.Tensor, torch.Tensor] | None = None,
    context: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` sentences sampled by :meth:`LSTMDecoder.decode`, padded to ``max_length``
    (a fixed shape, so that :class:`~pyro.infer.Predictive` can stack its draws), and their
    lengths (words and ``<eos>``): what a sentence model's ``"x"`` site holds when it
    generates."""
    if max_length is None:
        raise ValueError("to generate sentences (tokens=None), give max_length")
    tokens = decoder.decode(batch, max_length, bos_index, eos_index, state, context)
    pad_index = decoder.embedding.padding_idx
    tokens = nn.functional.pad(tokens, (0, max_length - tokens.shape[1]), value=pad_index)
    return tokens, (tokens != pad_index).sum(-1)
