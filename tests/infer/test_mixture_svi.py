import numpy as np
import pyro
import pytest
import torch

from ppl_vae.infer.em import fit_em
from ppl_vae.infer.mixture_svi import fit_mixture_svi
from tests.mixture_data import best_permutation, make_mixture

# small enough for ~2 s per SVI run; 3 steps of 100 documents per epoch
SVI_SETTINGS = {"epochs": 150, "batch_size": 100, "lr": 0.1, "final_lr_fraction": 0.05}


@pytest.fixture(scope="module")
def mixture():
    return make_mixture(K=3, V=30, train_docs=300, test_docs=200, mean_length=50.0, seed=0)


@pytest.fixture(scope="module")
def fits(mixture):
    pyro.enable_validation(True)  # module fixtures run before conftest's per-test setup
    em = fit_em(mixture.train, 3, restarts=3, seed=0)
    svi = fit_mixture_svi(mixture.train, 3, restarts=3, seed=0, **SVI_SETTINGS)
    return em, svi


def test_svi_with_enumeration_recovers_the_generating_parameters(mixture, fits):
    _, svi = fits
    assert svi.method == "svi" and svi.iterations == SVI_SETTINGS["epochs"]
    perm = best_permutation(svi.topics, mixture.topics)
    assert (svi.topics[perm] - mixture.topics).abs().max() < 0.03
    freq = torch.bincount(mixture.train_classes, minlength=3).double() / 300
    assert torch.allclose(svi.weights[perm], freq, atol=0.01)
    assigned = torch.tensor(perm)[svi.posterior(mixture.train).argmax(1)]
    assert (assigned == mixture.train_classes).double().mean() > 0.98


def test_svi_matches_em(mixture, fits):
    em, svi = fits
    perm = best_permutation(svi.topics, em.topics)
    assert (svi.topics[perm] - em.topics).abs().max() < 0.01
    assert (svi.weights[perm] - em.weights).abs().max() < 0.005
    # the same MAP objective: SVI gets within a few nats of EM's maximum, never above it
    em_obj, svi_obj = em.objective(mixture.train), svi.objective(mixture.train)
    assert em_obj - 50.0 < svi_obj <= em_obj + 1e-6
    em_test, svi_test = em.log_likelihood(mixture.test).sum(), svi.log_likelihood(mixture.test)
    assert abs(svi_test.sum() - em_test) < 0.01 * abs(em_test)
    assert svi.perplexity(mixture.test)["per_document"] == pytest.approx(
        em.perplexity(mixture.test)["per_document"], rel=0.01
    )


def test_history_tracks_the_exact_objective_and_restarts_keep_the_best(mixture, fits):
    _, svi = fits
    h = np.array(svi.history)
    assert len(h) == SVI_SETTINGS["epochs"] + 1
    assert h[-1] == pytest.approx(svi.objective(mixture.train), rel=1e-6)
    assert h[-1] - h[0] > 1000.0  # SVI climbed from the random start
    assert len(svi.restart_objectives) == 3
    assert max(svi.restart_objectives) == pytest.approx(h[-1], rel=1e-6)


def test_starts_where_em_starts(mixture):
    """Epoch 0 of SVI's history is the objective of EM's first restart's starting point."""
    em = fit_em(mixture.train, 3, restarts=1, seed=4, iterations=1)
    svi = fit_mixture_svi(mixture.train, 3, seed=4, epochs=1, batch_size=300)
    assert svi.history[0] == pytest.approx(em.history[0], rel=1e-12)


def test_leaves_the_global_param_store_alone(mixture):
    pyro.param("someone_elses", torch.ones(2))
    fit_mixture_svi(mixture.train, 3, epochs=1, batch_size=300)
    assert set(pyro.get_param_store().keys()) == {"someone_elses"}


def test_minibatches_are_scaled_to_the_corpus(mixture):
    """With a strong prior, SVI on minibatches of 50 reaches EM's MAP only if the documents
    count N / 50 times: unscaled, the prior would weigh 6 times too much."""
    prior = {"beta_concentration": 5.0, "weight_concentration": 2.0}
    em = fit_em(mixture.train, 3, restarts=1, seed=1, **prior)
    svi = fit_mixture_svi(
        mixture.train, 3, seed=1, epochs=60, batch_size=50, lr=0.1, final_lr_fraction=0.05, **prior
    )
    perm = best_permutation(svi.topics, em.topics)
    assert (svi.topics[perm] - em.topics).abs().max() < 0.005
    assert em.objective(mixture.train) - svi.objective(mixture.train) < 20.0
