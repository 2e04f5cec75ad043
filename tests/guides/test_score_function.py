import math

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

from ppl_vae.evaluation.gradient_variance import gradient_variance
from ppl_vae.guides import DiagonalGaussianGuide, ScoreFunctionGaussianGuide
from ppl_vae.models import NVDM

V, K = 8, 2


def latent_shapes(trace):
    return {
        name: site["value"].shape
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site["is_observed"] and name != "documents"
    }


def counts(batch=3, vocab=V, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, vocab), 1.0), generator=g)


def same_weights(baseline_hidden=4):
    """A diagonal guide with random weights and a score-function guide with the same ones."""
    diagonal = DiagonalGaussianGuide(V, K, hidden_sizes=())
    with torch.no_grad():
        for p in diagonal.parameters():
            p.normal_(0.0, 0.3)
    score = ScoreFunctionGaussianGuide(V, K, hidden_sizes=(), baseline_hidden=baseline_hidden)
    missing, unexpected = score.load_state_dict(diagonal.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("baseline.") for name in missing)
    return diagonal, score


def encoder_params(guide):
    return [p for name, p in guide.named_parameters() if not name.startswith("baseline.")]


@pytest.mark.parametrize("baseline_hidden", [0, 4], ids=["decaying-average", "nn-baseline"])
def test_site_matches_the_model_and_is_not_reparameterized(baseline_hidden):
    model = NVDM(30, 3)
    guide = ScoreFunctionGaussianGuide(30, 3, (16,), baseline_hidden=baseline_hidden)
    x = counts(5, 30)
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(model).get_trace(x)
    assert latent_shapes(g) == latent_shapes(m) == {"z": torch.Size([5, 3])}
    site = g.nodes["z"]
    assert site["fn"].has_rsample is False
    assert not site["value"].requires_grad  # no path from z back to the encoder
    baseline = site["infer"]["baseline"]
    assert ("nn_baseline" in baseline) == bool(baseline_hidden)


@pytest.mark.parametrize("elbo", [TraceGraph_ELBO, Trace_ELBO], ids=["nvil", "trace"])
def test_svi_steps_run_with_finite_changing_loss(elbo):
    model, guide = NVDM(30, 3), ScoreFunctionGaussianGuide(30, 3, (16,), baseline_hidden=8)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), elbo())
    x = counts(16, 30)
    before = guide.loc.weight.detach().clone()
    losses = [svi.step(x) for _ in range(20)]
    assert all(math.isfinite(loss) for loss in losses)
    assert len(set(losses)) > 1
    assert not torch.equal(guide.loc.weight, before)


def test_meanfield_objective_refuses_it():
    model, guide = NVDM(V, K), ScoreFunctionGaussianGuide(V, K, ())
    with pytest.raises(NotImplementedError, match="reparameterized"):
        TraceMeanField_ELBO().differentiable_loss(model, guide, counts())


def reparameterized_gradient(model, guide, x, particles=20000):
    elbo = Trace_ELBO(num_particles=particles, vectorize_particles=True, max_plate_nesting=1)
    grads = torch.autograd.grad(elbo.differentiable_loss(model, guide, x), encoder_params(guide))
    return torch.cat([g.reshape(-1) for g in grads])


def test_score_function_gradient_is_unbiased():
    """REINFORCE through TraceGraph_ELBO (no baseline yet: the decaying average starts at 0)
    averages to the reparameterized gradient; a sign error would be off by 2x its norm."""
    model = NVDM(V, K)
    diagonal, score = same_weights(baseline_hidden=0)
    x = counts()
    expected = reparameterized_gradient(model, diagonal, x)
    elbo = TraceGraph_ELBO(num_particles=20000, vectorize_particles=True, max_plate_nesting=1)
    elbo.loss_and_grads(model, score, x)
    got = torch.cat([p.grad.reshape(-1) for p in encoder_params(score)])
    assert (got - expected).norm() < 0.1 * expected.norm()


def test_score_function_gradient_with_the_nn_baseline_is_unbiased():
    model = NVDM(V, K)
    diagonal, score = same_weights(baseline_hidden=4)
    x = counts()
    expected = reparameterized_gradient(model, diagonal, x)
    elbo, total, n = TraceGraph_ELBO(), 0.0, 300  # nn baselines need unvectorized particles
    for _ in range(n):
        for p in score.parameters():
            p.grad = None
        elbo.loss_and_grads(model, score, x)
        total = total + torch.cat([p.grad.reshape(-1) for p in encoder_params(score)])
    assert (total / n - expected).norm() < 0.5 * expected.norm()


def test_score_function_gradients_vary_more_than_reparameterized_ones():
    model = NVDM(V, K)
    diagonal, score = same_weights(baseline_hidden=4)
    x = counts()
    rep = gradient_variance(model, diagonal, Trace_ELBO(), x, num_estimates=100)
    sf = gradient_variance(model, score, TraceGraph_ELBO(), x, num_estimates=100)
    assert rep["num_params"] == sf["num_params"] == V * K * 2 + K * 2  # baseline left out
    assert sf["mean_variance"] > 3 * rep["mean_variance"]
    assert sf["total_variance"] > 3 * rep["total_variance"]
    assert sf["signal_to_noise"] < rep["signal_to_noise"]
