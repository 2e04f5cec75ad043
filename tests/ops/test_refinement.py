import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.ops.refinement import gaussian_elbo_per_item, refine_gaussian

D, K, NOISE = 4, 2, 0.5


class LinearGaussian(nn.Module):
    """``z ~ N(0, I)``, ``x ~ N(W z + b, NOISE^2 I)``: the posterior is Gaussian and known."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.W = nn.Parameter(torch.randn(D, K, generator=g))
        self.b = nn.Parameter(torch.randn(D, generator=g))

    def forward(self, x, annealing_factor=1.0):
        pyro.module("linear_gaussian", self)
        with pyro.plate("documents", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], K), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ self.W.T + self.b, NOISE).to_event(1), obs=x)

    @torch.no_grad()
    def optimal_diagonal_q(self, x):
        """The best ``N(m, diag s^2)`` under KL(q || posterior): the posterior mean, and the
        inverse of the diagonal of the posterior precision as the variances."""
        precision = torch.eye(K) + self.W.T @ self.W / NOISE**2
        mean = torch.linalg.solve(precision, self.W.T @ (x - self.b).T / NOISE**2).T
        return mean, -0.5 * precision.diagonal().log().expand_as(mean)

    @torch.no_grad()
    def elbo(self, x, loc, log_scale):
        """The exact per-item ELBO of ``N(loc, diag exp(log_scale)^2)``."""
        var = (2 * log_scale).exp()
        residual = x - loc @ self.W.T - self.b
        expected_log_lik = -0.5 * D * math.log(2 * math.pi * NOISE**2) - (
            residual.pow(2).sum(-1) + (var @ self.W.T.pow(2)).sum(-1)
        ) / (2 * NOISE**2)
        kl = 0.5 * (loc.pow(2) + var - 1 - 2 * log_scale).sum(-1)
        return expected_log_lik - kl


def toy(batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = LinearGaussian()
    x = torch.randn(batch, D, generator=g) * 2
    loc = torch.randn(batch, K, generator=g)
    log_scale = torch.randn(batch, K, generator=g) * 0.5
    return model, x, loc, log_scale


def nvdm_toy(batch=6, vocab=30):
    g = torch.Generator().manual_seed(0)
    model = NVDM(vocab, 3)
    x = torch.poisson(torch.full((batch, vocab), 2.0), generator=g)
    encoder = DiagonalGaussianGuide(vocab, 3, hidden_sizes=(16,))
    with torch.no_grad():
        for p in encoder.parameters():
            p.normal_(0.0, 0.2, generator=g)
    loc, scale = encoder.encode(x)
    return model, x, loc, scale.log()


def test_elbo_estimate_matches_the_exact_elbo():
    model, x, loc, log_scale = toy()
    exact = model.elbo(x, loc, log_scale)
    estimate = gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples=20000)
    assert estimate.shape == (5,)
    assert torch.allclose(estimate, exact, rtol=0.01, atol=0.05)
    # one sample at a time, averaged
    single = torch.stack([gaussian_elbo_per_item(model, (x,), loc, log_scale) for _ in range(400)])
    assert torch.allclose(single.mean(0), exact, rtol=0.05, atol=0.5)


def test_elbo_inside_an_enclosing_plate():
    """Pyro's vectorized particles hold the dim left of the model's plates; the samples'
    plate moves further left."""
    model, x, loc, log_scale = toy()
    with pyro.plate("particles", 3, dim=-2):
        estimate = gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples=20000)
    assert torch.allclose(estimate, model.elbo(x, loc, log_scale), rtol=0.01, atol=0.05)


@pytest.mark.parametrize("num_samples", [1, 3], ids=["one-sample", "three-samples"])
def test_each_items_elbo_depends_only_on_its_own_parameters(num_samples):
    model, x, loc, log_scale = nvdm_toy()
    loc.requires_grad_(True)
    log_scale.requires_grad_(True)
    elbo = gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples)
    grad_loc, grad_log_scale = torch.autograd.grad(elbo[2], [loc, log_scale])
    others = torch.arange(6) != 2
    assert (grad_loc[others] == 0).all() and (grad_log_scale[others] == 0).all()
    assert grad_loc[2].abs().sum() > 0 and grad_log_scale[2].abs().sum() > 0


def test_refining_an_item_does_not_depend_on_the_rest_of_the_batch():
    model, x, loc, log_scale = nvdm_toy()
    other = torch.poisson(torch.full_like(x, 5.0))
    other[0] = x[0]
    refined = []
    for data in (x, other):
        torch.manual_seed(11)  # the same noise for item 0 in both batches
        refined.append(
            refine_gaussian(model, (data,), loc, log_scale, 10, 0.05, 2, optimizer="adam")
        )
    assert torch.allclose(refined[0][0][0], refined[1][0][0])
    assert torch.allclose(refined[0][1][0], refined[1][1][0])
    assert not torch.allclose(refined[0][0][1:], refined[1][0][1:])


def test_refinement_finds_the_optimal_diagonal_gaussian():
    model, x, loc, log_scale = toy()
    best_loc, best_log_scale = model.optimal_diagonal_q(x)
    got_loc, got_log_scale = refine_gaussian(
        model, (x,), loc, log_scale, steps=300, step_size=0.01, num_samples=32
    )
    assert torch.allclose(got_loc, best_loc, atol=0.05)
    assert torch.allclose(got_log_scale, best_log_scale, atol=0.1)
    exact_best = model.elbo(x, best_loc, best_log_scale)
    assert (model.elbo(x, got_loc, got_log_scale) > exact_best - 0.05).all()
    assert (model.elbo(x, loc, log_scale) < exact_best - 1.0).all()


@pytest.mark.parametrize(
    "optimizer, step_size, momentum",
    [("sgd", 0.005, 0.0), ("sgd", 0.005, 0.5), ("adam", 0.05, 0.0)],
    ids=["sgd", "sgd-momentum", "adam"],
)
def test_refinement_raises_every_items_elbo(optimizer, step_size, momentum):
    model, x, loc, log_scale = nvdm_toy()
    refined = refine_gaussian(
        model, (x,), loc, log_scale, 30, step_size, optimizer=optimizer, momentum=momentum
    )
    before = gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples=4000)
    after = gaussian_elbo_per_item(model, (x,), *refined, num_samples=4000)
    assert (after > before + 1.0).all()


def test_refinement_under_no_grad_leaves_the_model_alone():
    model, x, loc, log_scale = nvdm_toy()
    with torch.no_grad():
        refined_loc, refined_log_scale = refine_gaussian(model, (x,), loc, log_scale, 20, 0.005, 2)
        before = gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples=4000)
        after = gaussian_elbo_per_item(model, (x,), refined_loc, refined_log_scale, 4000)
    assert not refined_loc.requires_grad and (after > before).all()
    assert all(p.grad is None for p in model.parameters())


def test_stop_gradient_by_default_and_through_the_steps_on_request():
    model, x, loc, log_scale = nvdm_toy()
    loc.requires_grad_(True)
    log_scale.requires_grad_(True)
    torch.manual_seed(0)
    stopped = refine_gaussian(model, (x,), loc, log_scale, 3, 0.005)
    assert all(p.grad is None for p in model.parameters())
    grad_loc, grad_log_scale = torch.autograd.grad(sum(t.sum() for t in stopped), [loc, log_scale])
    assert torch.equal(grad_loc, torch.ones_like(loc))  # d refined / d init = I
    assert torch.equal(grad_log_scale, torch.ones_like(log_scale))
    assert all(p.grad is None for p in model.parameters())

    torch.manual_seed(0)
    through = refine_gaussian(model, (x,), loc, log_scale, 3, 0.005, create_graph=True)
    assert torch.allclose(through[0], stopped[0]) and torch.allclose(through[1], stopped[1])
    grad_loc, _ = torch.autograd.grad(through[0].sum(), [loc, log_scale], retain_graph=True)
    assert not torch.allclose(grad_loc, torch.ones_like(loc))
    through[0].sum().backward()  # SA-VAE: the model's gradient includes the path through the steps
    assert model.decoder.weight.grad is not None


def test_gradient_clipping_bounds_each_step():
    model, x, loc, log_scale = nvdm_toy()
    refined_loc, refined_log_scale = refine_gaussian(
        model, (x,), loc, log_scale, 4, 0.1, max_grad_norm=0.5
    )
    moved = torch.cat([refined_loc - loc, refined_log_scale - log_scale], -1).norm(dim=-1)
    assert (moved <= 4 * 0.1 * 0.5 + 1e-5).all() and (moved > 0).all()


def test_zero_steps_and_bad_arguments():
    model, x, loc, log_scale = nvdm_toy()
    assert refine_gaussian(model, (x,), loc, log_scale, 0, 0.1) == (loc, log_scale)
    with pytest.raises(ValueError, match="optimizer"):
        refine_gaussian(model, (x,), loc, log_scale, 1, 0.1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="num_samples"):
        gaussian_elbo_per_item(model, (x,), loc, log_scale, num_samples=0)


def test_other_latent_sites_are_refused():
    def model(x):
        with pyro.plate("documents", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(x.shape[0], K), 1.0).to_event(1))
            w = pyro.sample("w", dist.Normal(z, 1.0).to_event(1))
            pyro.sample("x", dist.Normal(w.sum(-1, keepdim=True), 1.0).to_event(1), obs=x)

    x = torch.zeros(3, 1)
    with pytest.raises(ValueError, match="latent sites"):
        gaussian_elbo_per_item(model, (x,), torch.zeros(3, K), torch.zeros(3, K))
