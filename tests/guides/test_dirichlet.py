"""The Dirichlet guide samples LDA's latent site, reparameterized, with an analytic KL."""

import pyro
import pytest
import torch
from pyro import poutine

from ppl_vae.guides import DirichletGuide
from ppl_vae.guides.dirichlet import CONCENTRATION_MAX, CONCENTRATION_MIN
from ppl_vae.models import LDA


def test_the_guide_samples_the_models_sites_in_its_plate():
    model, guide = LDA(vocab_size=20, latent_dim=4), DirichletGuide(20, 4, hidden_sizes=[8])
    x = torch.poisson(torch.full((3, 20), 1.0))
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(poutine.replay(model, trace=g)).get_trace(x)
    latent = [n for n, s in m.nodes.items() if s["type"] == "sample" and not s["is_observed"]
              and not n.endswith("documents")]  # fmt: skip
    assert latent == ["z"] and "z" in g.nodes
    theta = g.nodes["z"]["value"]
    assert theta.shape == (3, 4) and torch.allclose(theta.sum(-1), torch.ones(3))
    assert g.nodes["z"]["fn"].has_rsample
    kl = torch.distributions.kl_divergence(g.nodes["z"]["fn"], m.nodes["z"]["fn"])
    assert kl.shape == (3,) and (kl >= 0).all()


def test_every_objective_that_accepts_it_gives_finite_gradients():
    model, guide = LDA(vocab_size=20, latent_dim=4), DirichletGuide(20, 4, hidden_sizes=[8])
    x = torch.poisson(torch.full((5, 20), 2.0))
    for elbo in (pyro.infer.Trace_ELBO(), pyro.infer.TraceMeanField_ELBO()):
        with pyro.settings.context(module_local_params=True):
            loss_fn = elbo(model, guide)
            loss = loss_fn(x)
            loss.backward()
        grads = [p.grad for p in loss_fn.parameters()]
        assert torch.isfinite(loss) and all(
            g is not None and torch.isfinite(g).all() for g in grads
        )
        assert guide.log_concentration.weight.grad.abs().sum() > 0  # reparameterized path
        loss_fn.zero_grad()


def test_concentration_is_bounded():
    guide = DirichletGuide(10, 3, hidden_sizes=[4])
    with torch.no_grad():
        guide.log_concentration.bias.fill_(50.0)
        assert guide.encode(torch.ones(2, 10)).max() == pytest.approx(1e3)


@pytest.mark.parametrize("raw", [1000.0, -1000.0], ids=["overflowing", "underflowing"])
def test_a_concentration_past_its_bounds_is_clamped_with_finite_gradients(raw):
    guide = DirichletGuide(vocab_size=6, latent_dim=3, hidden_sizes=[4])
    with torch.no_grad():
        guide.log_concentration.bias.fill_(raw)
    concentration = guide.encode(torch.ones(2, 6))
    expected = CONCENTRATION_MAX if raw > 0 else CONCENTRATION_MIN
    torch.testing.assert_close(concentration, torch.full((2, 3), expected))
    concentration.sum().backward()  # exp() before the clamp gave 0 * inf = NaN here
    grads = [p.grad for p in guide.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
