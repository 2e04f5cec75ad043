"""Every objective has the module form: ``objective(model, guide)`` is an ``nn.Module`` whose
output has the objective's loss as its value and the objective's gradient as its gradient,
the same as its ``loss_and_grads`` (the path Pyro's ``SVI`` takes)."""

import pyro
import pytest
import torch

from ppl_vae.guides import BernoulliGuide, DiagonalGaussianGuide
from ppl_vae.infer.objectives import OBJECTIVES, make_objective
from ppl_vae.models import NVDM, SigmoidBeliefNetwork


def pair(objective):
    if objective == "nvil":
        return SigmoidBeliefNetwork(12, 3), BernoulliGuide(12, 3, hidden_sizes=(8,))
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
