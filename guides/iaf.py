"""An amortized inverse-autoregressive-flow inference network for bag-of-words models."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions.transforms import ConditionalAffineAutoregressive
from pyro.nn import ConditionalAutoRegressiveNN
from torch import nn

from ppl_vae.guides.diagonal_gaussian import CountEncoderGuide
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


class IAFGuide(CountEncoderGuide):
    r"""``q(z | x)``: a diagonal Gaussian pushed through conditional inverse autoregressive flows.

    Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling (2016), "Improved Variational
    Inference with Inverse Autoregressive Flow", NeurIPS. The encoder MLP gives a hidden state
    ``h`` and the diagonal Gaussian ``z_0 ~ N(mu(h), sigma(h)^2)``, as in
    :class:`~ppl_vae.guides.DiagonalGaussianGuide`. Each of ``num_flows`` steps then applies
    an autoregressive affine map whose shift and scale for ``z_t`` depend on ``z_{<t}`` and
    on ``h`` (a MADE network, :class:`~pyro.nn.ConditionalAutoRegressiveNN`). By default the
    steps use the paper's numerically stable update (its Algorithm 1),
    ``z <- s * z + (1 - s) * m`` with ``s = sigmoid(.)`` in (0, 1), and the order of the
    dimensions is reversed between steps, as in the paper.

    Sampling is one pass per step; the density of a sample is cheap because each step caches
    its input (:class:`~pyro.distributions.transforms.ConditionalAffineAutoregressive`), which
    is all an ELBO needs. Scoring a ``z`` that the guide did not just sample inverts the
    steps one dimension at a time (``K`` passes).

    There is no analytic KL to the prior, so :class:`~pyro.infer.TraceMeanField_ELBO` falls
    back to ``log q(z) - log p(z)`` at the sample (the gradient is reparameterized); the
    free-bits objective needs an analytic KL and does not apply. :meth:`distribution` gives
    ``q(z | x)``; the guide has no ``encode``, as ``q`` is not Gaussian.

    :param vocab_size: V.
    :param latent_dim: K.
    :param num_flows: number of IAF steps (0 gives the diagonal Gaussian).
    :param flow_hidden_sizes: hidden widths of each step's autoregressive network (default
        ``(10 K,)``, Pyro's default).
    :param stable: use the gated update; ``False`` uses ``z <- m + exp(.) * z`` (Eq. 10).
    :param hidden_sizes: widths of the encoder's hidden layers; the last is the context size.
    :param encoder: ``input_transform`` and ``dropout`` of the encoder, as in
        :class:`~ppl_vae.guides.diagonal_gaussian.CountEncoderGuide`.
    """

    name = "iaf"
    analytic_kl = False

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        *,
        num_flows: int = 2,
        flow_hidden_sizes: tuple[int, ...] | list[int] | None = None,
        stable: bool = True,
        **encoder,
    ) -> None:
        if num_flows < 0:
            raise ValueError(f"num_flows must be >= 0, got {num_flows}")
        super().__init__(vocab_size, latent_dim, hidden_sizes, **encoder)
        width = self.width
        flow_hidden = list(flow_hidden_sizes or (10 * latent_dim,))
        order = torch.arange(latent_dim)
        self.flows = nn.ModuleList(
            ConditionalAffineAutoregressive(
                ConditionalAutoRegressiveNN(
                    latent_dim,
                    width,
                    flow_hidden,
                    permutation=order if i % 2 == 0 else order.flip(0),
                ),
                stable=stable,
            )
            for i in range(num_flows)
        )

    def distribution(self, x: torch.Tensor) -> dist.TransformedDistribution:
        """``q(z | x)`` for a ``(batch, V)`` count matrix: batch shape ``(batch,)``, event
        shape ``(K,)``."""
        h = self.hidden(x)
        base = dist.Normal(*self.gaussian(h)).to_event(1)
        return dist.TransformedDistribution(base, [flow.condition(h) for flow in self.flows])

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "iaf_encoder")
        q = self.distribution(x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", q)
