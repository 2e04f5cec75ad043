import pyro
import pytest
import torch

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.infer.free_bits import FreeBitsELBO
from ppl_vae.models import NVDM


def setup():
    torch.manual_seed(0)
    model, guide = NVDM(6, 3), DiagonalGaussianGuide(6, 3, hidden_sizes=(8,))
    x = torch.randint(0, 3, (10, 6)).float()
    return model, guide, x


def per_dim_kl(guide, x):
    loc, scale = guide.encode(x)
    q = torch.distributions.Normal(loc, scale)
    return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean(0)


def reconstruction(model, guide, x, seed):
    pyro.set_rng_seed(seed)
    loc, scale = guide.encode(x)
    z = loc + scale * torch.randn_like(loc)
    return (x * torch.log_softmax(model.decoder(z), -1)).sum()


@pytest.mark.parametrize("free_bits", [0.0, 0.05, 10.0], ids=["off", "some-dims", "all-dims"])
@pytest.mark.parametrize("beta", [1.0, 0.3], ids=["beta=1", "beta=0.3"])
def test_loss_clamps_each_dimension_as_documented(free_bits, beta):
    model, guide, x = setup()
    with torch.no_grad():
        guide.loc.bias.copy_(torch.tensor([0.0, 0.3, 1.5]))
        expected = -(
            reconstruction(model, guide, x, seed=4)
            - beta * 10 * per_dim_kl(guide, x).clamp(min=free_bits).sum()
        )
    pyro.set_rng_seed(4)
    loss = FreeBitsELBO(free_bits).loss(model, guide, x, annealing_factor=beta)
    assert loss == pytest.approx(float(expected), rel=1e-5)


def test_dimensions_below_the_floor_get_no_kl_gradient():
    model, guide, x = setup()
    pyro.set_rng_seed(0)
    FreeBitsELBO(free_bits=100.0).loss_and_grads(model, guide, x)
    with_floor = guide.loc.bias.grad.clone()
    guide.zero_grad()
    model.zero_grad()
    pyro.set_rng_seed(0)
    FreeBitsELBO(free_bits=0.0).loss_and_grads(model, guide, x)
    without_floor = guide.loc.bias.grad
    # the KL pulls the means towards 0: with every dimension under the floor, that pull is gone
    loc = guide.encode(x)[0].detach()
    kl_pull = without_floor - with_floor
    assert torch.allclose(kl_pull, loc.sum(0), atol=1e-4)  # d(sum_d KL_d)/d(mu_d) = mu_d


def test_negative_free_bits_refused():
    with pytest.raises(ValueError):
        FreeBitsELBO(-1.0)
