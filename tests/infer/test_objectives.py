"""Every objective has the module form: ``objective(model, guide)`` is an ``nn.Module`` whose
output has the objective's loss as its value and the objective's gradient as its gradient,
the same as its ``loss_and_grads`` (the path Pyro's ``SVI`` takes)."""

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import TraceMeanField_ELBO

from ppl_vae.guides import (
    BernoulliGuide,
    DiagonalGaussianGuide,
    OneLayerGaussianGuide,
    RSMConditionalGuide,
)
from ppl_vae.infer.objectives import OBJECTIVES, make_objective
from ppl_vae.models import NVDM, ReplicatedSoftmax, SigmoidBeliefNetwork


def pair(objective):
    if objective == "nvil":
        return SigmoidBeliefNetwork(12, 3), BernoulliGuide(12, 3, hidden_sizes=(8,))
    if objective == "cd":
        rsm = ReplicatedSoftmax(12, 3)
        return rsm, RSMConditionalGuide(model=rsm)
    return NVDM(12, 3), DiagonalGaussianGuide(12, 3, hidden_sizes=(8,))


def grads(modules):
    return [p.grad.clone() for m in modules for p in m.parameters() if p.grad is not None]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_the_module_form_gives_the_loss_and_the_gradient_of_loss_and_grads(objective):
    model, guide = pair(objective)
    x = torch.poisson(torch.full((6, 12), 2.0))
    elbo = make_objective(objective, num_particles=3)
    pyro.set_rng_seed(1)
    expected = elbo.loss_and_grads(model, guide, x)
    expected_grads = grads([model, guide])
    assert expected_grads, "loss_and_grads gave no gradient"
    for m in (model, guide):
        m.zero_grad(set_to_none=True)

    loss_fn = elbo(model, guide)
    assert isinstance(loss_fn, torch.nn.Module)
    assert {id(p) for p in loss_fn.parameters()} == {
        id(p) for m in (model, guide) for p in m.parameters()
    }
    pyro.set_rng_seed(1)
    with pyro.settings.context(module_local_params=True):
        loss = loss_fn(x)
    loss.backward()
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    for a, b in zip(grads([model, guide]), expected_grads, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("objective", ["meanfield", "trace", "nvil", "free-bits"])
def test_an_annealed_objective_follows_beta_in_module_form(objective):
    model, guide = pair(objective)
    x = torch.poisson(torch.full((6, 12), 2.0))
    loss_fn = make_objective(objective)(model, guide)
    values = []
    for beta in (1.0, 0.5):
        pyro.set_rng_seed(3)
        values.append(float(loss_fn(x, annealing_factor=beta)))
    assert values[0] != values[1]


@pytest.mark.parametrize("components", [0, 3], ids=["standard-normal-prior", "mixture-prior"])
@pytest.mark.parametrize("particles", [1, 3], ids=["1-particle", "3-particles"])
@pytest.mark.parametrize("beta", [1.0, 0.4], ids=["beta-1", "beta-0.4"])
@pytest.mark.parametrize("guide_class", [DiagonalGaussianGuide, OneLayerGaussianGuide],
                         ids=["diagonal", "diagonal-1layer"])  # fmt: skip
def test_meanfield_without_traces_equals_the_traced_elbo(guide_class, beta, particles, components):
    torch.manual_seed(0)
    V = 50
    model = NVDM(V, 4, prior_components=components)
    guide = guide_class(V, 4, hidden_sizes=(16, 8))
    x = torch.poisson(torch.full((10, V), 0.4))
    traced = TraceMeanField_ELBO(num_particles=particles)
    loss_fn = make_objective("meanfield", num_particles=particles)(model, guide)
    calls = []
    original = loss_fn.elbo.closed_form_loss
    loss_fn.elbo.closed_form_loss = lambda *a: calls.append(1) or original(*a)
    results = []
    sides = (lambda: loss_fn(x, beta), lambda: traced.differentiable_loss(model, guide, x, beta))
    with pyro.settings.context(module_local_params=True):
        for loss_of in sides:
            pyro.set_rng_seed(3)
            loss = loss_of()
            results.append((loss, torch.autograd.grad(loss, list(loss_fn.parameters()))))
    assert calls == [1]  # the module took the closed-form path, once
    (fast, fast_grads), (slow, slow_grads) = results
    assert float(fast) == pytest.approx(float(slow), rel=1e-6)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


class OwnForward(NVDM):
    def forward(self, x=None, annealing_factor=1.0, lengths=None):
        return super().forward(x, annealing_factor, lengths)


@pytest.mark.parametrize("case", ["param-store", "tensor-beta", "handler", "own-forward", "beta-0"])
def test_meanfield_keeps_pyros_traces_where_the_closed_form_is_not_known_to_hold(case):
    torch.manual_seed(0)
    V = 30
    model = (OwnForward if case == "own-forward" else NVDM)(V, 3)
    guide = DiagonalGaussianGuide(V, 3, hidden_sizes=(8,))
    x = torch.poisson(torch.full((4, V), 0.5))
    elbo = make_objective("meanfield")
    elbo.closed_form_loss = lambda *a: pytest.fail("took the closed-form path")
    beta = {"tensor-beta": torch.tensor(0.5), "beta-0": 0.0}.get(case, 1.0)
    local = case != "param-store"
    with pyro.settings.context(module_local_params=local):
        if case == "handler":
            with poutine.block():  # any handler a user wraps around the loss
                elbo.differentiable_loss(model, guide, x, beta)
        else:
            elbo.differentiable_loss(model, guide, x, beta)
