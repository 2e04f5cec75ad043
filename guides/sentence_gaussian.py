"""What the diagonal-Gaussian sentence encoders share: a Gaussian head and the Pyro guide.

Bowman, Vilnis, Vinyals, Dai, Jozefowicz and Bengio (2016), "Generating Sentences from a
Continuous Space", CoNLL, encode a sentence with the last state of an LSTM; the encoders built
on this base differ only in how they summarize the sentence as one feature vector.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ppl_vae.guides.base import Guide
from ppl_vae.guides.diagonal_gaussian import bounded_log_scale
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


class SentenceGaussianGuide(Guide):
    r"""Base of the guides ``q(z | x) = N(mu(x), diag sigma(x)^2)`` over a batch of sentences.

    The base builds the word embedding, then the subclass's sentence encoder over it
    (:meth:`build_encoder`, which returns the width of the feature vector that
    :meth:`features` computes), then the Gaussian head. Linear maps of the features give ``mu`` and
    ``log sigma``; the ``log sigma`` layer starts at zero (``q`` starts as ``N(mu, I)``) and
    ``log sigma`` is kept in ``[-10, 2]``, as in :class:`~ppl_vae.guides.DiagonalGaussianGuide`.
    The guide samples ``"z"`` in the plate ``"sentences"`` like
    :class:`~ppl_vae.models.SentenceVAE`, takes the same arguments ``(tokens, lengths,
    annealing_factor)``, and weights ``"z"`` by the KL weight through
    :func:`~ppl_vae.ops.annealing.kl_annealing`.

    The head's modules are ``loc`` and ``log_scale``, so a subclass's ``state_dict`` holds its
    own modules' keys and ``loc.*``, ``log_scale.*``.

    :param vocab_size: V.
    :param latent_dim: K.
    :param embedding_dim: width of the word embeddings.
    :param hidden_dim: width of the encoder (per direction for a bidirectional one).
    :param pad_index: the id of ``<pad>``, whose embedding is zero.
    """

    fits = ("sentence-vae",)
    closed_form_gaussian = True
    #: free bits (Kingma et al., 2016): with the plain ELBO an LSTM decoder learns to ignore z
    #: (KL collapse, Bowman et al., 2016); the model's preset adds a sigmoid warm-up and word
    #: dropout (:data:`ppl_vae.runs.presets.BY_MODEL`)
    default_objective = "free-bits"

    #: the name under which :func:`pyro.module` registers the guide's parameters
    module_name: str = "sentence_encoder"

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
        self._init_head(self.build_encoder(embedding_dim, hidden_dim))

    def build_encoder(self, embedding_dim: int, hidden_dim: int) -> int:
        """Create the modules that summarize a sentence's embeddings; return the width of the
        summary."""
        raise NotImplementedError

    def _init_head(self, feature_dim: int) -> None:
        """Create the linear maps from ``feature_dim`` features to ``mu`` and ``log sigma``."""
        self.loc = nn.Linear(feature_dim, self.latent_dim)
        self.log_scale = nn.Linear(feature_dim, self.latent_dim)
        nn.init.zeros_(self.log_scale.weight)
        nn.init.zeros_(self.log_scale.bias)

    def final_states(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The last hidden states of ``self.lstm`` (``(layers * directions, B, H)``, in the
        batch's order) after reading each sentence's ``lengths`` tokens, packed so that padding
        is never read."""
        packed = pack_padded_sequence(
            self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        return self.lstm(packed)[1][0]

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, feature_dim)`` summaries of the ``(B, T)`` ``tokens``, each read only up to its
        sentence's length."""
        raise NotImplementedError

    def encode(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` of ``q(z | x)``, each ``(B, latent_dim)``."""
        h = self.features(tokens, lengths)
        return self.loc(h), bounded_log_scale(self.log_scale(h)).exp()

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, annealing_factor: float = 1.0
    ) -> torch.Tensor:
        register(self, self.module_name)
        loc, scale = self.encode(tokens, lengths)
        with pyro.plate("sentences", tokens.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.Normal(loc, scale).to_event(1))
