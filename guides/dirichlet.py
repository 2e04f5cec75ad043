"""An amortized Dirichlet inference network for topic proportions (LDA)."""

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

#: the concentration's bounds: below, Dirichlet samples underflow to exact zeros; above, the
#: sampler's gradients lose precision
CONCENTRATION_MIN, CONCENTRATION_MAX = 1e-3, 1e3
LOG_CEILING = math.log(CONCENTRATION_MAX) + 1.0


class DirichletGuide(Guide):
    r"""``q(theta | x) = Dirichlet(exp(f(x)))`` with an MLP ``f`` over the word counts.

    Samples are reparameterized through the Dirichlet's implicit-reparameterization gradient
    (Figurnov, Mohamed and Mnih, 2018, as in :class:`torch.distributions.Dirichlet`), and
    ``KL(q || p)`` to the model's Dirichlet prior is analytic, so the mean-field ELBO applies.
    This replaces the logistic-normal (Laplace) approximation of Srivastava and Sutton (2017).

    :param vocab_size: V.
    :param latent_dim: K, the number of topics.
    :param hidden_sizes: widths of the hidden layers.
    :param input_transform: ``"log1p"`` or ``"counts"``, as for the Gaussian guides.
    :param dropout: dropout after each hidden layer, in training mode only.
    """

    name = "dirichlet"
    fits = ("lda",)
    default_objective = "meanfield"

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
        self.body = CountMLP([vocab_size, *hidden_sizes], input_transform, dropout)
        self.log_concentration = nn.Linear(self.body.width, latent_dim)
        nn.init.zeros_(self.log_concentration.weight)  # q starts as Dirichlet(1, ..., 1)
        nn.init.zeros_(self.log_concentration.bias)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The concentration of ``q(theta | x)``, ``(batch, K)``."""
        raw = self.log_concentration(self.body(x))
        # exp() of a large raw value overflows to inf, and the clamp's zero gradient times inf
        # is NaN: capping raw a nat above the bound first keeps exp() finite and leaves every
        # value (and every finite gradient) as the bare clamp gives it
        return raw.clamp(max=LOG_CEILING).exp().clamp(CONCENTRATION_MIN, CONCENTRATION_MAX)

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "dirichlet_encoder")
        concentration = self.encode(x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.Dirichlet(concentration))
