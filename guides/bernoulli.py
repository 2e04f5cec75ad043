"""Amortized Bernoulli inference networks for binary latent units, with an NVIL baseline."""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.guides.base import Guide
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.count_input import CountMLP
from ppl_vae.ops.params import register


class BernoulliGuide(Guide):
    r"""``q(z | x) = prod_k Bernoulli(z_k; sigmoid(f_k(x)))`` with an MLP ``f`` over word counts.

    Discrete ``z`` cannot be reparameterized, so :class:`~pyro.infer.TraceGraph_ELBO` estimates
    the guide's gradient with the score function. As in NVIL (Mnih and Gregor, 2014), a learned
    input-dependent baseline ``c(x)`` (a second MLP, passed to Pyro as ``nn_baseline``) is
    subtracted from the learning signal, which reduces its variance without bias. (Pyro's
    decaying-average baseline is not used with it: Pyro keeps that average per position in the
    batch, which mixes unrelated documents under minibatching.)

    :param vocab_size: V.
    :param latent_dim: number of binary units.
    :param hidden_sizes: hidden widths of the inference network.
    :param baseline_hidden: hidden width of the baseline network (0: decaying average only).
    :param dropout: dropout after each hidden layer of the inference network, in training mode
        only (see :class:`~ppl_vae.guides.DiagonalGaussianGuide`).
    """

    name = "bernoulli"
    fits = ("sbn",)
    reparameterized = False
    default_objective = "nvil"

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        baseline_hidden: int = 100,
        input_transform: str = "log1p",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.input_transform = input_transform
        self.body = CountMLP([vocab_size, *hidden_sizes], input_transform, dropout)
        self.logits = nn.Linear(self.body.width, latent_dim)
        self.baseline = PerWordBaseline.make(vocab_size, baseline_hidden, input_transform)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``q(z_k = 1 | x)`` for each unit, ``(batch, K)``."""
        return torch.sigmoid(self.unit_logits(x))

    def unit_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.body(x))

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "bernoulli_encoder")
        logits = self.unit_logits(x)
        baseline = baseline_spec(self.baseline, x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                q = dist.Bernoulli(logits=logits).to_event(1)
                return pyro.sample("z", q, infer={"baseline": baseline})


def baseline_spec(baseline: nn.Module | None, x: torch.Tensor) -> dict:
    """The ``infer={"baseline": ...}`` entry of a score-function site: the learned baseline
    ``baseline(x)`` if there is one, else Pyro's decaying average (which Pyro keeps per batch
    position, so it only suits fixed batches)."""
    if baseline is not None:
        return {"nn_baseline": baseline, "nn_baseline_input": x}
    return {"use_decaying_avg_baseline": True, "baseline_beta": 0.95}


class PerWordBaseline(nn.Module):
    r"""NVIL's input-dependent baseline, ``c(x) = N(x) (c_0 + f(x))`` with ``N`` the length.

    The learning signal ``log p(x, z) - log q(z | x)`` is dominated by ``log p(x | z)``, about
    ``-N log V`` nats at the start. A baseline network starting near 0 would take hundreds of
    thousands of steps to reach that scale, and until then it removes no variance. Measuring the
    baseline per word, with ``c_0`` starting at ``-log V``, starts it at the right scale; the MLP
    ``f`` learns the document-dependent rest. Any function of ``x`` alone leaves the gradient
    unbiased.
    """

    def __init__(self, vocab_size: int, hidden: int, input_transform: str = "log1p") -> None:
        super().__init__()
        self.input_transform = input_transform
        self.offset = nn.Parameter(torch.tensor(-math.log(vocab_size)))
        self.net = CountMLP([vocab_size, hidden], input_transform, head=1)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    @classmethod
    def make(cls, vocab_size: int, hidden: int, input_transform: str) -> PerWordBaseline | None:
        """The baseline network, or None for ``hidden = 0`` (Pyro's decaying average)."""
        return cls(vocab_size, hidden, input_transform) if hidden else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_word = self.offset + self.net(x).squeeze(-1)
        return x.sum(-1) * per_word
