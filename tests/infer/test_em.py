import numpy as np
import pytest
import torch

from ppl_vae.infer.em import fit_em, initial_parameters, run_em
from ppl_vae.infer.mixture_fit import MixtureFit, sparse_chunks
from ppl_vae.models import MixtureOfMultinomials
from ppl_vae.ops.exact import elbo, kl_to_posterior, log_evidence, log_posterior
from tests.mixture_data import best_permutation, make_mixture


@pytest.fixture(scope="module")
def mixture():
    return make_mixture(K=3, V=30, train_docs=300, test_docs=100, seed=3)


@pytest.fixture(scope="module")
def short_documents():
    """About 8 words per document: soft posteriors, so EM climbs for many iterations."""
    return make_mixture(K=3, V=30, train_docs=300, test_docs=10, mean_length=8.0, seed=3)


@pytest.mark.parametrize(
    "init,beta_concentration,weight_concentration",
    [
        ("random-partition", 1.01, 1.0),
        ("random-soft", 1.01, 1.0),
        ("random-partition", 2.0, 3.0),
        ("random-soft", 1.0, 1.0),
    ],
    ids=["partition-light-smoothing", "soft-light-smoothing", "partition-heavy", "soft-no-prior"],
)
def test_objective_never_decreases(short_documents, init, beta_concentration, weight_concentration):
    """MAP-EM's objective is non-decreasing at every iteration (Dempster et al., 1977)."""
    fit = fit_em(
        short_documents.train,
        5,
        beta_concentration=beta_concentration,
        weight_concentration=weight_concentration,
        iterations=100,
        tol=0.0,  # run until the objective stops rising at all
        restarts=1,
        seed=1,
        init=init,
        chunk_size=64,  # several chunks
    )
    h = np.array(fit.history)
    assert 50 < len(h) <= 101 and fit.iterations == len(h) - 1
    steps = np.diff(h)
    # exact arithmetic gives steps >= 0; allow only float64 rounding of a ~1e4-nat sum
    assert (steps >= -1e-9 * np.abs(h[1:])).all(), steps.min()
    assert h[-1] - h[0] > 500.0  # and it did climb
    assert h[-1] == pytest.approx(fit.objective(short_documents.train), rel=1e-12)


def test_stops_at_relative_tolerance(mixture):
    fit = fit_em(mixture.train, 3, tol=1e-6, iterations=500, restarts=1)
    h = fit.history
    assert fit.iterations < 500
    assert (h[-1] - h[-2]) / abs(h[-2]) < 1e-6 <= (h[-2] - h[-3]) / abs(h[-3])


def test_restarts_keep_the_best_training_objective(mixture):
    fit = fit_em(mixture.train, 5, restarts=3, seed=0, tol=1e-8)
    assert len(fit.restart_objectives) == 3
    assert fit.history[-1] == max(fit.restart_objectives)
    alone = [fit_em(mixture.train, 5, restarts=1, seed=s, tol=1e-8).history[-1] for s in range(3)]
    assert fit.restart_objectives == pytest.approx(alone, rel=1e-12)


def test_fixed_point_is_the_closed_form_map_update(mixture):
    """At convergence one more EM step changes nothing, and the parameters equal the smoothed
    fractional counts of their own responsibilities."""
    a_pi, a_beta = 2.0, 1.5
    fit = fit_em(
        mixture.train,
        3,
        beta_concentration=a_beta,
        weight_concentration=a_pi,
        tol=1e-13,
        iterations=1000,
    )
    assert fit.iterations < 1000
    r = fit.posterior(mixture.train)
    x = mixture.train.dense().double()
    pi = (r.sum(0) + a_pi - 1) / (len(x) + 3 * (a_pi - 1))
    counts = r.T @ x + a_beta - 1
    beta = counts / counts.sum(-1, keepdim=True)
    assert torch.allclose(fit.weights, pi, atol=1e-8)
    assert torch.allclose(fit.topics, beta, atol=1e-8)


def test_recovers_the_generating_parameters(mixture):
    fit = fit_em(mixture.train, 3, restarts=3, seed=0)
    perm = best_permutation(fit.topics, mixture.topics)
    # sampling error of ~5000 tokens per class is ~0.006 per word probability
    assert (fit.topics[perm] - mixture.topics).abs().max() < 0.03
    # long documents: classes are recovered exactly, so pi is the classes' empirical frequency
    freq = torch.bincount(mixture.train_classes, minlength=3).double() / 300
    assert torch.allclose(fit.weights[perm], freq, atol=0.01)
    assigned = torch.tensor(perm)[fit.posterior(mixture.train).argmax(1)]
    assert (assigned == mixture.train_classes).double().mean() > 0.98


def test_sparse_chunked_likelihood_matches_the_dense_model(mixture):
    fit = fit_em(mixture.train, 3, restarts=1)
    model = MixtureOfMultinomials(30, 3)
    dense = model.exact_log_likelihood(mixture.test.dense().double(), fit.weights, fit.topics)
    for chunk_size in (7, 1000):
        ll = fit.log_likelihood(mixture.test, chunk_size=chunk_size)
        assert ll.dtype == np.float64
        np.testing.assert_allclose(ll, dense.numpy(), rtol=1e-12)
    ppl = fit.perplexity(mixture.test)
    N = mixture.test.lengths
    assert ppl["per_document"] == pytest.approx(np.exp(-np.mean(dense.numpy() / N)))
    assert ppl["corpus"] == pytest.approx(np.exp(-dense.numpy().sum() / N.sum()))


def test_state_dict_round_trips_with_weights_only_load(mixture, tmp_path):
    fit = fit_em(mixture.train, 3, restarts=2, iterations=5)
    torch.save(fit.state_dict(), tmp_path / "fit.pt")
    again = MixtureFit.from_state_dict(torch.load(tmp_path / "fit.pt", weights_only=True))
    assert torch.equal(again.log_topics, fit.log_topics) and again.history == fit.history
    assert again.restart_objectives == fit.restart_objectives and again.method == "em"
    np.testing.assert_array_equal(
        again.log_likelihood(mixture.test), fit.log_likelihood(mixture.test)
    )


@pytest.mark.parametrize(
    "bad",
    [{"beta_concentration": 0.5}, {"weight_concentration": 0.9}],
    ids=["beta-below-1", "weights-below-1"],
)
def test_concentrations_below_one_are_refused(mixture, bad):
    with pytest.raises(ValueError, match=">= 1"):
        fit_em(mixture.train, 3, **bad)


# ---- the exact identities behind the E-step -------------------------------------------------


@pytest.fixture
def log_joint(mixture):
    """log p(x_d, z_d = k) of the first 50 test documents under rough parameters."""
    chunks = sparse_chunks(mixture.test.subset(np.arange(50)))
    g = torch.Generator().manual_seed(0)
    log_w, log_t = initial_parameters(
        chunks, 4, weight_concentration=1.0, beta_concentration=1.5, generator=g
    )
    log_w, log_t, _ = run_em(
        chunks, log_w, log_t, weight_concentration=1.0, beta_concentration=1.5, iterations=1
    )
    return MixtureFit(log_w, log_t).log_joint(mixture.test.dense(np.arange(50)))


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0], ids=["peaked-q", "moderate-q", "flat-q"])
def test_log_evidence_is_elbo_plus_kl_for_any_q(log_joint, temperature):
    g = torch.Generator().manual_seed(1)
    log_q = torch.log_softmax(
        torch.randn(log_joint.shape, generator=g, dtype=torch.float64) / temperature, -1
    )
    assert log_joint.dtype == torch.float64
    gap = kl_to_posterior(log_q, log_joint)
    torch.testing.assert_close(
        elbo(log_q, log_joint) + gap, log_evidence(log_joint), atol=1e-8, rtol=0
    )
    assert (gap > 0).all()
    assert (elbo(log_q, log_joint) < log_evidence(log_joint)).all()


def test_bound_is_tight_at_the_posterior(log_joint):
    log_q = log_posterior(log_joint)
    torch.testing.assert_close(elbo(log_q, log_joint), log_evidence(log_joint), atol=1e-8, rtol=0)
    torch.testing.assert_close(
        kl_to_posterior(log_q, log_joint),
        torch.zeros(log_joint.shape[0], dtype=torch.float64),
        atol=1e-8,
        rtol=0,
    )


def test_classes_outside_the_support_of_q_contribute_nothing():
    """0 log 0 = 0: a q with zeros, against a class of probability 0, stays finite."""
    log_joint = torch.tensor([[-3.0, float("-inf"), -5.0]], dtype=torch.float64)
    log_q = torch.log(torch.tensor([[0.6, 0.0, 0.4]], dtype=torch.float64))
    total = elbo(log_q, log_joint) + kl_to_posterior(log_q, log_joint)
    torch.testing.assert_close(total, log_evidence(log_joint), atol=1e-12, rtol=0)
