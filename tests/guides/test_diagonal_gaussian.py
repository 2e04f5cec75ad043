import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM


def latent_shapes(trace):
    return {
        name: site["value"].shape
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site["is_observed"] and name != "documents"
    }


@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)], ids=["linear", "one-layer", "two-layer"])
def test_guide_samples_the_models_latent_site(hidden):
    model, guide = NVDM(12, 3), DiagonalGaussianGuide(12, 3, hidden_sizes=hidden)
    x = torch.randint(0, 3, (4, 12)).float()
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(model).get_trace(x)
    assert latent_shapes(g) == latent_shapes(m) == {"z": torch.Size([4, 3])}
    loc, scale = guide.encode(x)
    assert torch.allclose(scale, torch.ones_like(scale))  # log-sigma layer starts at zero


@pytest.mark.parametrize("elbo", [Trace_ELBO, TraceMeanField_ELBO], ids=["trace", "meanfield"])
def test_svi_step_lowers_the_loss_on_a_fixed_batch(elbo, tiny_corpus):
    V = tiny_corpus.train.vocab_size
    model, guide = NVDM(V, 3), DiagonalGaussianGuide(V, 3, hidden_sizes=(32,))
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), elbo(num_particles=4))
    x = tiny_corpus.train.dense(range(64))
    first = sum(svi.evaluate_loss(x) for _ in range(10)) / 10
    for _ in range(150):
        svi.step(x)
    last = sum(svi.evaluate_loss(x) for _ in range(10)) / 10
    assert last < first - 0.05 * abs(first)


def test_unknown_input_transform():
    with pytest.raises(ValueError, match="input_transform"):
        DiagonalGaussianGuide(5, 2, input_transform="tfidf")


def test_log_sigma_has_a_floor():
    guide = DiagonalGaussianGuide(5, 2, hidden_sizes=())
    with torch.no_grad():
        guide.log_scale.bias.fill_(-500.0)
    _, scale = guide.encode(torch.ones(3, 5))
    assert (scale > 0).all() and torch.allclose(scale, torch.full_like(scale, 4.54e-5), rtol=1e-2)


def test_log_scale_bounds_clamp_forward_but_keep_the_gradient():
    from ppl_vae.guides.diagonal_gaussian import LOG_SCALE_MAX, LOG_SCALE_MIN, bounded_log_scale

    raw = torch.tensor([-50.0, -1.0, 0.5, 80.0], requires_grad=True)
    out = bounded_log_scale(raw)
    assert out.tolist() == [LOG_SCALE_MIN, -1.0, 0.5, LOG_SCALE_MAX]
    (grad,) = torch.autograd.grad(out.exp().sum(), raw)
    # the gradient at a bound still points back inside (a plain clamp would give 0 there)
    assert torch.allclose(grad, out.exp().detach())


def overshooting_guide(vocab_size: int) -> DiagonalGaussianGuide:
    """A guide with ``mu = 0`` whose raw ``log sigma`` grows with the document's length: 0.25
    for a 50-word document, 25 for a 5,000-word one (raw counts into a linear ReLU layer)."""
    guide = DiagonalGaussianGuide(vocab_size, 3, hidden_sizes=(8,), input_transform="counts")
    with torch.no_grad():
        guide.body[0].weight.fill_(0.01)
        guide.body[0].bias.zero_()
        guide.loc.weight.zero_()
        guide.loc.bias.zero_()
        guide.log_scale.weight.fill_(0.0625)
        guide.log_scale.bias.zero_()
    return guide


def loss_and_gradient(model, guide, x, samples=200):
    """The document's loss (-ELBO, mean of ``samples`` draws) and the norm of its gradient."""
    pyro.clear_param_store()
    loss = TraceMeanField_ELBO(num_particles=samples, vectorize_particles=True).differentiable_loss(
        model, guide, x
    )
    params = [*model.parameters(), *guide.parameters()]
    grads = torch.autograd.grad(loss, params)
    return float(loss.detach()), float(torch.cat([g.flatten() for g in grads]).norm())


@pytest.mark.parametrize(
    "ceiling, spikes", [(None, False), (10.0, True)], ids=["bound", "old-ceiling-10"]
)
def test_a_long_document_cannot_spike_the_loss_through_sigma(monkeypatch, ceiling, spikes):
    """An encoder that overshoots on a long document (raw log sigma 25) gives that document a
    loss 2.4 times, and a gradient 55 times, those at sigma = 1. Under the old ceiling of 10
    (the second case) the same document had sigma = e^10: a loss 52,000 times, and a gradient
    2.7 million times, those at sigma = 1."""
    if ceiling is not None:
        monkeypatch.setattr("ppl_vae.guides.diagonal_gaussian.LOG_SCALE_MAX", ceiling)
    torch.manual_seed(0)
    V = 20
    model = NVDM(V, 3)
    guide = overshooting_guide(V)
    long_doc = torch.full((1, V), 250.0)  # 5,000 words
    assert (guide.log_scale(guide.body(long_doc)) > 20).all()
    spiked, spiked_grad = loss_and_gradient(model, guide, long_doc)
    with torch.no_grad():
        guide.log_scale.weight.zero_()  # the same document at sigma = 1
    calm, calm_grad = loss_and_gradient(model, guide, long_doc)
    assert calm < spiked
    assert (spiked > 1000 * calm) == spikes and (spiked_grad > 1000 * calm_grad) == spikes
    if not spikes:
        assert spiked < 3 * calm and spiked_grad < 100 * calm_grad


def test_an_overshooting_log_sigma_is_pulled_back_inside_the_bound():
    torch.manual_seed(0)
    V = 20
    model, guide = NVDM(V, 3), overshooting_guide(V)
    long_doc = torch.full((1, V), 250.0)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), TraceMeanField_ELBO())
    for _ in range(30):
        svi.step(long_doc)
    assert (guide.log_scale(guide.body(long_doc)) < 2.0).all()  # from 25, by the gradient at 2
