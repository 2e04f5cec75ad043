"""Amortized diagonal-Gaussian inference networks for bag-of-words models."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.guides.base import Guide
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.count_input import CountMLP
from ppl_vae.ops.params import register

#: floor on ``log sigma``: objectives without a KL term (reweighted wake-sleep's wake phase
#: fits ``q`` to a few weighted samples) can otherwise drive ``sigma`` to underflow.
LOG_SCALE_MIN = -10.0
#: ceiling on ``log sigma``: ``q`` is never wider than ``e^2 = 7.4`` prior standard deviations.
#: The ELBO never wants it wider than the prior: at a stationary point of a mean-field Gaussian
#: ``q``, ``1 / sigma_k^2 = 1 + E_q[-d^2 log p(x | z) / dz_k^2]``, which is at least 1 whenever
#: the likelihood is log-concave in ``z``, as NVDM's softmax of ``Rz + b`` is. The ceiling only
#: limits the damage of an encoder that overshoots on an unusual document during training.
LOG_SCALE_MAX = 2.0


def bounded_log_scale(raw: torch.Tensor) -> torch.Tensor:
    """``raw`` clamped to ``[LOG_SCALE_MIN, LOG_SCALE_MAX]`` in the forward pass, with the
    identity's gradient (straight through).

    The forward clamp bounds what a sample can do: with ``sigma <= e^2``, a document whose
    encoder overshoots draws ``z`` a few prior widths out, and its loss stays within a small
    multiple of a typical one. The straight-through gradient keeps an overshooting unit
    trainable: it gets the gradient at the bound, where the KL term pulls it back
    (``d KL / d log sigma = sigma^2 - 1 > 0``); a plain clamp would give it zero gradient and
    leave it there.

    The ceiling used to be 10 (``sigma`` up to 22,000 prior widths). The forward pass of a
    straight-through bound sits *at* the bound whenever the encoder overshoots, so a ceiling
    that high made one overshoot sample ``z`` tens of thousands of units out: on 20 Newsgroups
    the default NVDM run's epoch loss jumped from about 680 to 24,000-190,000 for several
    epochs, and the run ended at test perplexity 1024 instead of 830.
    """
    return raw + (raw.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX) - raw).detach()


class CountEncoderGuide(Guide):
    """Base of the document guides: an MLP ``body`` over the transformed word counts and the
    Gaussian heads ``loc`` and ``log_scale`` (the latter started at zero, so ``q`` starts with
    unit scale). Subclasses add what makes their ``q`` different.

    :param vocab_size: V.
    :param latent_dim: K.
    :param hidden_sizes: widths of the hidden layers; ``(h,)`` gives the one-layer encoder.
    :param input_transform: ``"log1p"`` (default) feeds ``log(1 + x)`` to the MLP, which keeps
        long documents from saturating it; ``"counts"`` feeds raw counts, as the paper does.
    :param dropout: dropout after each hidden layer, in training mode only. The encoder has
        1.3M weights for 11k training documents; without it, it learns the training documents'
        posteriors far better than it generalizes, which shows up as an amortization gap on
        test documents.
    """

    fits = ("nvdm",)

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        input_transform: str = "log1p",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_transform = input_transform
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        self.hidden_sizes = tuple(hidden_sizes)
        self.dropout = dropout
        self.body = CountMLP([vocab_size, *self.hidden_sizes], input_transform, dropout)
        #: the width of ``body``'s output (the encoder state)
        self.width = self.body.width
        self.loc = nn.Linear(self.width, latent_dim)
        self.log_scale = nn.Linear(self.width, latent_dim)
        nn.init.zeros_(self.log_scale.weight)
        nn.init.zeros_(self.log_scale.bias)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder state ``h(x)`` for a ``(batch, V)`` count matrix."""
        return self.body(x)

    def gaussian(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` from the encoder state, with ``log sigma`` in ``[-10, 2]`` (straight
        through, see :func:`bounded_log_scale`). Without the ceiling one long document can push
        a shallow encoder's ``log sigma`` past 88 in a single step, where exp overflows."""
        return self.loc(h), bounded_log_scale(self.log_scale(h)).exp()


class DiagonalGaussianGuide(CountEncoderGuide):
    r"""``q(z | x) = N(mu(x), diag sigma(x)^2)`` with an MLP over the word counts.

    NVDM's inference network (Miao et al., 2016): two ReLU layers of 500 units by default,
    then linear maps to ``mu`` and ``log sigma``. The ``log sigma`` layer starts at zero, so
    ``q`` starts as ``N(mu, I)``; without this, training on long documents can diverge.
    ``log sigma`` is kept in ``[-10, 2]`` by :func:`bounded_log_scale`: clamped in the forward
    pass, with the gradient passed straight through. The ceiling of 2 (``sigma <= 7.4``) is far
    above any width the ELBO prefers (at most the prior's 1 for NVDM), and low enough that an
    encoder overshooting on an unusual document cannot wreck an epoch's loss.
    Samples ``"z"`` in the plate ``"documents"``, like :class:`~ppl_vae.models.NVDM`. The
    parameters are :class:`CountEncoderGuide`'s.
    """

    name = "diagonal"
    closed_form_gaussian = True

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` of ``q(z | x)`` for a ``(batch, V)`` count matrix."""
        return self.gaussian(self.hidden(x))

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "encoder")
        loc, scale = self.encode(x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.Normal(loc, scale).to_event(1))


class OneLayerGaussianGuide(DiagonalGaussianGuide):
    """The lecture's "one-layer feedforward networks" for ``mu`` and ``sigma``:
    :class:`DiagonalGaussianGuide` with only the first of ``hidden_sizes``."""

    name = "diagonal-1layer"

    def __init__(
        self, vocab_size: int, latent_dim: int = 50, hidden_sizes=(500, 500), **encoder
    ) -> None:
        super().__init__(vocab_size, latent_dim, tuple(hidden_sizes)[:1], **encoder)
