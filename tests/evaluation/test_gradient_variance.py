import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO, TraceGraph_ELBO
from torch import nn

from ppl_vae.evaluation.gradient_variance import gradient_variance
from ppl_vae.guides import DiagonalGaussianGuide, ScoreFunctionGaussianGuide
from ppl_vae.models import NVDM

V, K = 8, 2


def counts(batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, V), 1.0), generator=g)


class PointGuide(nn.Module):
    """A point mass per document: the ELBO's gradient has no noise at all."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.z = nn.Parameter(torch.randn(batch, K))

    def forward(self, x, annealing_factor=1.0):
        pyro.module("point", self)
        with pyro.plate("documents", x.shape[0]):
            return pyro.sample("z", dist.Delta(self.z, event_dim=1))


def test_a_deterministic_estimator_has_zero_variance():
    model, guide, x = NVDM(V, K), PointGuide(3), counts()
    result = gradient_variance(model, guide, Trace_ELBO(), x, num_estimates=5)
    assert result["mean_variance"] == pytest.approx(0.0, abs=1e-10)
    assert result["num_params"] == 3 * K and result["num_estimates"] == 5
    (grad,) = torch.autograd.grad(Trace_ELBO().differentiable_loss(model, guide, x), [guide.z])
    assert result["mean_grad_sq_norm"] == pytest.approx(float(grad.pow(2).sum()), rel=1e-5)
    model_result = gradient_variance(model, guide, Trace_ELBO(), x, 3, params="model")
    assert model_result["num_params"] == V * K + V


@pytest.mark.parametrize(
    "guide_cls, elbo",
    [(DiagonalGaussianGuide, Trace_ELBO), (ScoreFunctionGaussianGuide, TraceGraph_ELBO)],
    ids=["differentiable-loss", "loss-and-grads"],
)
def test_parameters_and_existing_grads_are_left_alone(guide_cls, elbo):
    model, guide, x = NVDM(V, K), guide_cls(V, K, hidden_sizes=(4,)), counts()
    guide(x), model(x)  # register the parameters with Pyro
    params = [*model.parameters(), *guide.parameters()]
    values = [p.detach().clone() for p in params]
    sentinel = torch.full_like(guide.loc.weight, 7.0)
    guide.loc.weight.grad = sentinel
    result = gradient_variance(model, guide, elbo(), x, num_estimates=4)
    assert result["mean_variance"] > 0
    assert all(torch.equal(p, v) for p, v in zip(params, values))
    assert guide.loc.weight.grad is sentinel
    assert model.decoder.weight.grad is None and guide.body[0].weight.grad is None


def test_variance_falls_with_the_number_of_particles():
    model, guide, x = NVDM(V, K), DiagonalGaussianGuide(V, K, hidden_sizes=()), counts()
    one = gradient_variance(model, guide, Trace_ELBO(), x, num_estimates=200)
    many = Trace_ELBO(num_particles=8, vectorize_particles=True, max_plate_nesting=1)
    eight = gradient_variance(model, guide, many, x, num_estimates=200)
    assert 3 < one["total_variance"] / eight["total_variance"] < 20
    assert one["mean_variance"] == pytest.approx(one["total_variance"] / one["num_params"])


def test_explicit_parameters_and_bad_arguments():
    model, guide, x = NVDM(V, K), DiagonalGaussianGuide(V, K, hidden_sizes=()), counts()
    result = gradient_variance(model, guide, Trace_ELBO(), x, 3, params=[guide.loc.bias])
    assert result["num_params"] == K
    with pytest.raises(ValueError, match="num_estimates"):
        gradient_variance(model, guide, Trace_ELBO(), x, num_estimates=1)
    with pytest.raises(ValueError, match="params"):
        gradient_variance(model, guide, Trace_ELBO(), x, params="everything")
