"""An amortized full-covariance Gaussian inference network for bag-of-words models."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.distributions import register_kl

from ppl_vae.guides.diagonal_gaussian import CountEncoderGuide, bounded_log_scale
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


@register_kl(dist.MultivariateNormal, dist.Independent)
def _kl_mvn_diagonal_normal(p: dist.MultivariateNormal, q: dist.Independent) -> torch.Tensor:
    """``KL(N(m, L L^T) || N(mu, diag s^2))`` in closed form, so that
    :class:`~pyro.infer.TraceMeanField_ELBO` need not estimate it from the sample:
    ``sum log s - sum log diag L + (||L / s||_F^2 + ||(m - mu) / s||^2 - K) / 2``."""
    base = q.base_dist
    if not (isinstance(base, dist.Normal) and q.reinterpreted_batch_ndims == 1):
        raise NotImplementedError
    loc, scale = torch.broadcast_tensors(base.loc, base.scale)
    trace = (p.scale_tril / scale.unsqueeze(-1)).pow(2).sum((-2, -1))
    mahalanobis = ((p.loc - loc) / scale).pow(2).sum(-1)
    log_det = p.scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    k = p.loc.shape[-1]
    return scale.log().sum(-1) - log_det + 0.5 * (trace + mahalanobis - k)


class FullCovarianceGaussianGuide(CountEncoderGuide):
    r"""``q(z | x) = N(mu(x), L(x) L(x)^T)`` with a lower-triangular ``L`` from an MLP over counts.

    The diagonal Gaussian of NVDM (Miao et al., 2016) cannot represent posterior correlations
    between latent dimensions; an amortized Cholesky factor can. Kingma et al. (2016),
    "Improved Variational Inference with Inverse Autoregressive Flow", describe this guide as
    the simplest member of their family: a single linear autoregressive transformation
    ``z = mu + L eps`` of white noise. The encoder is the diagonal guide's MLP; its
    hidden state feeds three linear heads: ``mu``, ``log diag L`` (kept in ``[-10, 2]`` by
    :func:`~ppl_vae.guides.diagonal_gaussian.bounded_log_scale`, and starting at zero, so
    ``diag L`` starts at 1) and the ``K (K - 1) / 2`` entries below the diagonal (starting at
    zero). So ``q`` starts as ``N(mu, I)``, as the diagonal
    guide does, and with the off-diagonal head at zero it *is* the diagonal guide.

    Samples ``"z"`` in the plate ``"documents"``, like :class:`~ppl_vae.models.NVDM`. Pyro has
    no analytic KL from a :class:`~pyro.distributions.MultivariateNormal` to NVDM's
    ``Normal(0, 1).to_event(1)`` prior, so :class:`~pyro.infer.TraceMeanField_ELBO` estimates
    the KL from the sample (the gradient is still reparameterized).

    The parameters are :class:`~ppl_vae.guides.diagonal_gaussian.CountEncoderGuide`'s.
    """

    name = "full-covariance"
    analytic_kl = False  # no closed-form KL from a MultivariateNormal to Normal(0, 1).to_event(1)

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        **encoder,
    ) -> None:
        # the same names as DiagonalGaussianGuide's, so its weights load with strict=False
        super().__init__(vocab_size, latent_dim, hidden_sizes, **encoder)
        width = self.width
        self.off_diagonal = nn.Linear(width, latent_dim * (latent_dim - 1) // 2)
        nn.init.zeros_(self.off_diagonal.weight)
        nn.init.zeros_(self.off_diagonal.bias)
        rows, cols = torch.tril_indices(latent_dim, latent_dim, offset=-1)
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, L)`` of ``q(z | x)`` for a ``(batch, V)`` count matrix: ``(batch, K)`` and the
        ``(batch, K, K)`` lower-triangular Cholesky factor with a positive diagonal."""
        h = self.hidden(x)
        diagonal = bounded_log_scale(self.log_scale(h)).exp()
        below = self.off_diagonal(h)
        scale_tril = torch.diag_embed(diagonal)  # a fresh tensor: safe to write into
        scale_tril[..., self._rows, self._cols] = below
        return self.loc(h), scale_tril

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "full_covariance_encoder")
        loc, scale_tril = self.encode(x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.MultivariateNormal(loc, scale_tril=scale_tril))
