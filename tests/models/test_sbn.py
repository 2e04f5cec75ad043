import itertools

import pyro
import pytest
import torch
from pyro.infer import TraceGraph_ELBO

from ppl_vae.guides import BernoulliGuide
from ppl_vae.models import SigmoidBeliefNetwork


def exact_elbo(model, guide, x):
    """sum_z q(z|x) [log p(x, z) - log q(z|x)] over all 2^K binary codes, per document."""
    K = model.latent_dim
    codes = torch.tensor(list(itertools.product([0.0, 1.0], repeat=K)))  # (2^K, K)
    q_logits = guide.unit_logits(x)  # (B, K)
    log_q = (codes[:, None] * q_logits - torch.nn.functional.softplus(q_logits)).sum(-1)
    log_prior = codes * model.prior_logits - torch.nn.functional.softplus(model.prior_logits)
    log_lik = (x * torch.log_softmax(model.decoder(codes), -1)[:, None]).sum(-1)  # (2^K, B)
    log_joint = log_prior.sum(-1)[:, None] + log_lik
    return (log_q.exp() * (log_joint - log_q)).sum(0)


def test_nvil_gradient_is_unbiased_against_enumeration():
    torch.manual_seed(0)
    model, guide = (
        SigmoidBeliefNetwork(5, 3),
        BernoulliGuide(5, 3, hidden_sizes=(4,), baseline_hidden=4),
    )
    with torch.no_grad():
        model.decoder.weight.mul_(4.0)
    x = torch.tensor([[3.0, 0.0, 1.0, 0.0, 2.0], [0.0, 4.0, 0.0, 1.0, 0.0]])
    params = list(guide.logits.parameters())
    exact = torch.autograd.grad(-exact_elbo(model, guide, x).sum(), params)

    elbo, draws = TraceGraph_ELBO(), 1500
    samples = [[] for _ in params]
    for _ in range(draws):
        for p in [*model.parameters(), *guide.parameters()]:
            p.grad = None
        elbo.loss_and_grads(model, guide, x)
        for s, p in zip(samples, params):
            s.append(p.grad.clone())
    for s, e in zip(samples, exact):
        s = torch.stack(s)
        mean, se = s.mean(0), s.std(0) / draws**0.5
        assert (mean - e).abs().le(4 * se + 1e-3).all(), (mean, e, se)
    assert max(e.abs().max() for e in exact) > 0.1  # a gradient worth checking


def test_sites_and_binary_values():
    model, guide = SigmoidBeliefNetwork(7, 4), BernoulliGuide(7, 4, hidden_sizes=(8,))
    x = torch.randint(0, 3, (5, 7)).float()
    tr = pyro.poutine.trace(guide).get_trace(x)
    z = tr.nodes["z"]["value"]
    assert z.shape == (5, 4) and set(z.unique().tolist()) <= {0.0, 1.0}
    model_tr = pyro.poutine.trace(pyro.poutine.replay(model, trace=tr)).get_trace(x)
    assert model_tr.nodes["x"]["is_observed"]


@pytest.mark.parametrize("baseline_hidden", [0, 8], ids=["decaying-average", "learned"])
def test_nvil_trains_on_a_fixed_batch(baseline_hidden):
    model = SigmoidBeliefNetwork(10, 4)
    guide = BernoulliGuide(10, 4, hidden_sizes=(16,), baseline_hidden=baseline_hidden)
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 2e-2}), TraceGraph_ELBO())
    x = torch.randint(0, 4, (16, 10)).float()
    first = sum(svi.evaluate_loss(x) for _ in range(20)) / 20
    for _ in range(200):
        svi.step(x)
    assert sum(svi.evaluate_loss(x) for _ in range(20)) / 20 < first - 0.03 * abs(first)


def test_predictive_generates_documents_of_the_given_lengths():
    from pyro.infer import Predictive

    model = SigmoidBeliefNetwork(12, 3)
    samples = Predictive(model, num_samples=3)(None, lengths=[4, 9, 0])
    assert samples["z"].shape == (3, 3, 3) and set(samples["z"].unique().tolist()) <= {0.0, 1.0}
    assert samples["x"].sum(-1).tolist() == [[4.0, 9.0, 0.0]] * 3
