import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import JitTrace_ELBO, Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.ops.annealing import (
    Constant,
    Cyclical,
    LinearWarmup,
    Sigmoid,
    kl_annealing,
    make_schedule,
)


def test_linear_warmup():
    s = LinearWarmup(100, start=0.0, end=1.0)
    assert [s(0), s(25), s(100), s(1000)] == [0.0, 0.25, 1.0, 1.0]


def test_sigmoid_is_centred_and_saturates():
    s = Sigmoid(midpoint=50)
    assert s(50) == pytest.approx(0.5)
    assert s(0) < 0.01 and s(100) > 0.99
    assert all(s(t) < s(t + 1) for t in range(100))


def test_cyclical_restarts_each_cycle():
    s = Cyclical(cycle_steps=100, ratio=0.5)
    assert [s(0), s(25), s(50), s(99), s(100), s(125)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5]


def test_make_schedule_by_name():
    assert isinstance(make_schedule("constant", beta=0.5), Constant)
    assert make_schedule("sigmoid", steps=200)(100) == pytest.approx(0.5)
    assert make_schedule("linear", steps=10, start=0.2)(0) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="positive number of steps"):
        make_schedule("linear", steps=0)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("exponential", steps=10)


def test_kl_annealing_rejects_negative_beta():
    with pytest.raises(ValueError):
        kl_annealing(-0.1)


def _hand_elbo_terms(model, guide, x, seed):
    """Reconstruction, analytic KL, and log p(z) - log q(z) for the sample the guide draws."""
    pyro.set_rng_seed(seed)
    torch.set_grad_enabled(False)
    loc, scale = guide.encode(x)
    z = loc + scale * torch.randn_like(loc)
    rec = (x * torch.log_softmax(model.decoder(z), -1)).sum()
    q = torch.distributions.Normal(loc, scale)
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum()
    log_ratio = (torch.distributions.Normal(0.0, 1.0).log_prob(z) - q.log_prob(z)).sum()
    torch.set_grad_enabled(True)
    return rec, kl, log_ratio


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0], ids=["beta=0", "beta=0.3", "beta=1"])
@pytest.mark.parametrize("objective", ["meanfield", "trace"])
def test_annealed_loss_is_reconstruction_minus_beta_kl(beta, objective):
    torch.manual_seed(0)
    model, guide = NVDM(8, 3), DiagonalGaussianGuide(8, 3, hidden_sizes=(6,))
    with torch.no_grad():
        guide.log_scale.bias.fill_(-0.5)
    x = torch.randint(0, 4, (5, 8)).float()
    rec, kl, log_ratio = _hand_elbo_terms(model, guide, x, seed=3)
    elbo = TraceMeanField_ELBO() if objective == "meanfield" else Trace_ELBO()
    pyro.set_rng_seed(3)
    loss = elbo.loss(model, guide, x, annealing_factor=beta)
    expected = -(rec - beta * kl) if objective == "meanfield" else -(rec + beta * log_ratio)
    assert loss == pytest.approx(float(expected), rel=1e-5, abs=1e-4)
    assert not math.isnan(loss)


def test_jit_trace_elbo_follows_a_tensor_beta_and_compiles_once(tiny_corpus):
    """beta as a positional tensor: JitTrace_ELBO's loss equals Trace_ELBO's with the same
    draws at beta = 1, 0.5 and 0, from one compiled graph (a float taken from the tensor used
    to freeze the first beta into the graph: JIT returned the beta = 1 loss for 0.5 and 0)."""
    V = tiny_corpus.train.vocab_size
    model, guide = NVDM(V, 3), DiagonalGaussianGuide(V, 3, hidden_sizes=(8,))
    x = tiny_corpus.train.dense(range(16))
    jit = JitTrace_ELBO()
    losses = {}
    for beta in (1.0, 0.5, 0.0):
        b = torch.tensor(beta)
        jit.differentiable_loss(model, guide, x, b)  # compiles on the first call
        pyro.set_rng_seed(5)
        expected = Trace_ELBO().differentiable_loss(model, guide, x, b)
        pyro.set_rng_seed(5)
        got = jit.differentiable_loss(model, guide, x, b)
        assert torch.allclose(got, expected, rtol=1e-5), beta
        losses[beta] = got.item()
    assert losses[1.0] > losses[0.5] > losses[0.0]  # the KL term, weighted by beta
    assert len(jit._loss_and_surrogate_loss.compiled) == 1


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0], ids=["zero", "half", "one"])
def test_a_tensor_beta_weights_the_sites_as_a_float_does(beta):
    def model():
        with pyro.plate("p", 3):
            pyro.sample("z", dist.Normal(0.0, 1.0))

    def weighted(b):
        pyro.set_rng_seed(0)
        with kl_annealing(b):
            return poutine.trace(model).get_trace()

    as_float, as_tensor = weighted(beta), weighted(torch.tensor(beta))
    as_float.compute_log_prob()
    as_tensor.compute_log_prob()
    assert torch.allclose(as_float.log_prob_sum(), as_tensor.log_prob_sum())


def test_a_negative_tensor_beta_is_refused():
    with pytest.raises(ValueError, match="beta must be >= 0"):
        with kl_annealing(torch.tensor(-0.1)):
            pass
