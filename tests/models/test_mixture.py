import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import TraceEnum_ELBO

from ppl_vae.infer.mixture_fit import MixtureFit
from ppl_vae.models import MixtureOfMultinomials

K, V = 3, 6


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (5, V), generator=g).double()
    weights = torch.softmax(torch.randn(K, generator=g, dtype=torch.float64), -1)
    topics = torch.softmax(torch.randn(K, V, generator=g, dtype=torch.float64), -1)
    return (
        MixtureOfMultinomials(V, K, weight_concentration=1.5, beta_concentration=1.2),
        x,
        (
            weights,
            topics,
        ),
    )


def by_hand(x, weights, topics):
    """log p(x_d) as an explicit sum over classes of pi_k prod_v beta_kv^x_dv."""
    return torch.stack(
        [
            torch.log(sum(weights[k] * torch.prod(topics[k] ** x[d]) for k in range(K)))
            for d in range(x.shape[0])
        ]
    )


def test_sites_plates_and_shapes(problem):
    model, x, _ = problem
    tr = poutine.trace(model).get_trace(x)
    sites = {n: s for n, s in tr.nodes.items() if s["type"] == "sample"}
    assert sites["weights"]["value"].shape == (K,)
    assert sites["topics"]["value"].shape == (K, V)
    assert sites["z"]["value"].shape == (5,)
    assert sites["x"]["is_observed"] and torch.equal(sites["x"]["value"], x)
    plates = {n: [f.name for f in s["cond_indep_stack"]] for n, s in sites.items()}
    assert plates["weights"] == [] and plates["topics"] == ["components"]
    assert plates["z"] == ["documents"] and plates["x"] == ["documents"]
    assert sites["z"]["infer"] == {"enumerate": "parallel"}
    assert isinstance(sites["z"]["fn"], dist.Categorical)


def test_exact_log_likelihood_and_posterior_match_bayes_rule(problem):
    model, x, (weights, topics) = problem
    log_px = model.exact_log_likelihood(x, weights, topics)
    assert torch.allclose(log_px, by_hand(x, weights, topics), atol=1e-10)
    post = model.posterior(x, weights, topics)
    joint = weights * torch.stack([torch.prod(topics[k] ** x, -1) for k in range(K)], -1)
    assert torch.allclose(post, joint / joint.sum(-1, keepdim=True), atol=1e-12)
    assert torch.allclose(post.sum(-1), torch.ones(5, dtype=torch.float64))


def test_words_of_probability_zero_give_minus_infinity_not_nan(problem):
    model, x, (weights, topics) = problem
    topics = topics.clone()
    topics[:, 0] = 0.0
    topics /= topics.sum(-1, keepdim=True)
    log_px = model.exact_log_likelihood(x, weights, topics)
    has_word = x[:, 0] > 0
    assert torch.isneginf(log_px[has_word]).all() and torch.isfinite(log_px[~has_word]).all()
    assert not torch.isnan(model.posterior(x[~has_word], weights, topics)).any()


def delta_guide(weights, topics):
    def guide(x, annealing_factor=1.0, corpus_size=None):
        pyro.sample("weights", dist.Delta(weights, event_dim=1))
        with pyro.plate("components", K):
            pyro.sample("topics", dist.Delta(topics, event_dim=1))

    return guide


@pytest.mark.parametrize(
    "corpus_size", [None, 40], ids=["whole-corpus", "minibatch-scaled-to-40-docs"]
)
def test_enumerated_elbo_is_the_exact_map_objective(problem, corpus_size):
    """With point masses on the globals, -loss = (N/B) sum_d log p(x_d) + log prior."""
    model, x, (weights, topics) = problem
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    loss = elbo.loss(model, delta_guide(weights, topics), x, 1.0, corpus_size)
    scale = 1.0 if corpus_size is None else corpus_size / x.shape[0]
    fit = MixtureFit(weights.log(), topics.log(), [], 1.5, 1.2)
    expected = scale * by_hand(x, weights, topics).sum() + fit.log_prior()
    assert loss == pytest.approx(-float(expected), rel=1e-10)
    prior = model.weight_prior(torch.float64).log_prob(weights)
    prior = prior + model.topic_prior(torch.float64).log_prob(topics).sum()
    assert fit.log_prior() == pytest.approx(float(prior), rel=1e-12)


def test_annealing_factor_is_accepted_and_ignored(problem):
    model, x, (weights, topics) = problem
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    guide = delta_guide(weights, topics)
    assert elbo.loss(model, guide, x, 0.3) == elbo.loss(model, guide, x, 1.0)


def test_concentrations_must_be_positive():
    with pytest.raises(ValueError):
        MixtureOfMultinomials(V, K, beta_concentration=0.0)
