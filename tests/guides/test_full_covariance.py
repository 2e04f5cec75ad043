import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.guides import DiagonalGaussianGuide, FullCovarianceGaussianGuide
from ppl_vae.models import NVDM

V, K = 30, 3


def latent_shapes(trace):
    return {
        name: site["value"].shape
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site["is_observed"] and name != "documents"
    }


def counts(batch=5, seed=0):
    return torch.poisson(torch.full((batch, V), 1.0), generator=torch.Generator().manual_seed(seed))


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.3)


@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)], ids=["linear", "one-layer", "two-layer"])
def test_guide_samples_the_models_latent_site(hidden):
    model, guide = NVDM(V, K), FullCovarianceGaussianGuide(V, K, hidden_sizes=hidden)
    x = counts()
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(model).get_trace(x)
    assert latent_shapes(g) == latent_shapes(m) == {"z": torch.Size([5, K])}
    _, scale_tril = guide.encode(x)
    assert torch.allclose(scale_tril, torch.eye(K).expand(5, K, K))  # starts as N(mu, I)


def test_scale_tril_is_lower_triangular_with_a_positive_diagonal():
    guide = FullCovarianceGaussianGuide(V, 4, hidden_sizes=(16,))
    randomize(guide)
    loc, scale_tril = guide.encode(counts())
    assert loc.shape == (5, 4) and scale_tril.shape == (5, 4, 4)
    assert torch.equal(scale_tril, scale_tril.tril())
    assert (scale_tril.diagonal(dim1=-2, dim2=-1) > 0).all()
    assert scale_tril.tril(-1).abs().sum() > 0  # the off-diagonal head is used
    # Cholesky factor of a valid covariance
    cov = scale_tril @ scale_tril.transpose(-1, -2)
    assert torch.allclose(torch.linalg.cholesky(cov), scale_tril, atol=1e-5)


def test_with_a_zero_off_diagonal_head_it_is_the_diagonal_guide():
    diagonal = DiagonalGaussianGuide(V, K, hidden_sizes=(16,))
    randomize(diagonal)
    full = FullCovarianceGaussianGuide(V, K, hidden_sizes=(16,))
    missing, unexpected = full.load_state_dict(diagonal.state_dict(), strict=False)
    assert not unexpected and set(missing) == {"off_diagonal.weight", "off_diagonal.bias"}
    x = counts()
    loc_d, scale_d = diagonal.encode(x)
    loc_f, scale_tril = full.encode(x)
    assert torch.allclose(loc_f, loc_d)
    assert torch.allclose(scale_tril, torch.diag_embed(scale_d))
    z = torch.randn(5, K)
    q_d = pyro.distributions.Normal(loc_d, scale_d).to_event(1)
    q_f = pyro.distributions.MultivariateNormal(loc_f, scale_tril=scale_tril)
    assert torch.allclose(q_f.log_prob(z), q_d.log_prob(z), atol=1e-5)


@pytest.mark.parametrize("elbo", [Trace_ELBO, TraceMeanField_ELBO], ids=["trace", "meanfield"])
def test_svi_steps_run_with_finite_changing_loss(elbo):
    model, guide = NVDM(V, K), FullCovarianceGaussianGuide(V, K, hidden_sizes=(16,))
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), elbo())
    x = counts(16)
    losses = [svi.step(x) for _ in range(20)]
    assert all(math.isfinite(loss) for loss in losses)
    assert len(set(losses)) > 1
    assert guide.off_diagonal.weight.abs().sum() > 0  # the correlations are trained


def test_unknown_input_transform():
    with pytest.raises(ValueError, match="input_transform"):
        FullCovarianceGaussianGuide(5, 2, input_transform="tfidf")


def test_analytic_kl_to_a_diagonal_normal_matches_torch():
    from torch.distributions import kl_divergence

    torch.manual_seed(0)
    a = torch.randn(3, 4, 4)
    scale_tril = torch.tril(a, -1) + torch.diag_embed(torch.rand(3, 4) + 0.5)
    p = dist.MultivariateNormal(torch.randn(3, 4), scale_tril=scale_tril)
    loc, scale = torch.randn(3, 4), torch.rand(3, 4) + 0.5
    ours = kl_divergence(p, dist.Normal(loc, scale).to_event(1))
    theirs = kl_divergence(p, dist.MultivariateNormal(loc, scale_tril=torch.diag_embed(scale)))
    assert torch.allclose(ours, theirs, atol=1e-5)
