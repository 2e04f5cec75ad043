import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.guides import DiagonalGaussianGuide, IAFGuide
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


@pytest.mark.parametrize("num_flows", [0, 1, 2], ids=["no-flow", "one-flow", "two-flows"])
@pytest.mark.parametrize("hidden", [(), (16,)], ids=["linear", "one-layer"])
def test_guide_samples_the_models_latent_site(num_flows, hidden):
    model, guide = NVDM(V, K), IAFGuide(V, K, hidden_sizes=hidden, num_flows=num_flows)
    x = counts()
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(model).get_trace(x)
    assert latent_shapes(g) == latent_shapes(m) == {"z": torch.Size([5, K])}
    q = g.nodes["z"]["fn"]
    assert q.batch_shape == (5,) and q.event_shape == (K,)
    assert len(guide.flows) == num_flows


@pytest.mark.parametrize("stable", [True, False], ids=["gated", "affine"])
def test_log_prob_of_own_samples_follows_the_change_of_variables(stable):
    guide = IAFGuide(V, K, hidden_sizes=(16,), num_flows=2, stable=stable)
    x = counts()
    q = guide.distribution(x)
    assert isinstance(q, dist.TransformedDistribution) and len(q.transforms) == 2
    # push a base sample through the steps by hand, accumulating log |det J|
    z = q.base_dist.rsample()
    expected = q.base_dist.log_prob(z)
    for t in q.transforms:
        y = t(z)
        expected = expected - t.log_abs_det_jacobian(z, y)
        z = y
    assert torch.isfinite(expected).all()
    assert torch.allclose(q.log_prob(z), expected, atol=1e-4)  # the cached inverse
    # a fresh q has no cache and inverts the flows one dimension at a time
    assert torch.allclose(guide.distribution(x).log_prob(z), expected, atol=1e-3)
    # and a sample drawn by the distribution itself scores finitely
    sample = q.rsample()
    assert torch.isfinite(q.log_prob(sample)).all()


def test_without_flows_it_is_the_diagonal_guide():
    diagonal, iaf = DiagonalGaussianGuide(V, K, (16,)), IAFGuide(V, K, (16,), num_flows=0)
    with torch.no_grad():
        for p in diagonal.parameters():
            p.normal_(0.0, 0.3)
    iaf.load_state_dict(diagonal.state_dict())
    x, z = counts(), torch.randn(5, K)
    loc, scale = diagonal.encode(x)
    expected = dist.Normal(loc, scale).to_event(1).log_prob(z)
    assert torch.allclose(iaf.distribution(x).log_prob(z), expected, atol=1e-5)


def test_the_flows_get_gradients():
    model, guide = NVDM(V, K), IAFGuide(V, K, hidden_sizes=(16,), num_flows=2)
    loss = TraceMeanField_ELBO().differentiable_loss(model, guide, counts())
    loss.backward()
    for flow in guide.flows:
        grads = [p.grad for p in flow.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0
    names = {name for name in pyro.get_param_store().keys() if name.startswith("iaf_encoder")}
    assert any("$flows.1." in name for name in names)  # registered with Pyro, so SVI trains them


@pytest.mark.parametrize("elbo", [Trace_ELBO, TraceMeanField_ELBO], ids=["trace", "meanfield"])
def test_svi_steps_run_with_finite_changing_loss(elbo):
    model, guide = NVDM(V, K), IAFGuide(V, K, hidden_sizes=(16,))
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), elbo())
    x = counts(16)
    before = [p.detach().clone() for p in guide.flows.parameters()]
    losses = [svi.step(x) for _ in range(20)]
    assert all(math.isfinite(loss) for loss in losses)
    assert len(set(losses)) > 1
    after = list(guide.flows.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before))


def test_vectorized_particles():
    model, guide = NVDM(V, K), IAFGuide(V, K, hidden_sizes=(16,))
    elbo = Trace_ELBO(num_particles=4, vectorize_particles=True, max_plate_nesting=1)
    assert math.isfinite(elbo.loss(model, guide, counts()))


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_transform"):
        IAFGuide(5, 2, input_transform="tfidf")
    with pytest.raises(ValueError, match="num_flows"):
        IAFGuide(5, 2, num_flows=-1)
