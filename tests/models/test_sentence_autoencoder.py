"""The deterministic sentence autoencoder: z = mu(x), no noise and no KL, so its ELBO is the
reconstruction log-likelihood; it trains, evaluates and generates like the VAE."""

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.evaluation import evaluate
from ppl_vae.guides import DeterministicEncoderGuide
from ppl_vae.models import SentenceAutoencoder

SIZES = {"embedding_dim": 8, "hidden_dim": 12}


@pytest.fixture
def pair():
    torch.manual_seed(0)
    model = SentenceAutoencoder(20, latent_dim=4, **SIZES).eval()
    guide = DeterministicEncoderGuide(20, latent_dim=4, **SIZES).eval()
    return model, guide


BATCH = (torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]]), torch.tensor([4, 3]))


def test_the_code_is_deterministic(pair):
    _, guide = pair
    first = poutine.trace(guide).get_trace(*BATCH).nodes["z"]["value"]
    second = poutine.trace(guide).get_trace(*BATCH).nodes["z"]["value"]
    assert torch.equal(first, second)
    loc, scale = guide.encode(*BATCH)
    assert torch.equal(first, loc) and torch.equal(scale, torch.zeros_like(loc))
    assert torch.equal(guide.encode(*BATCH)[0], loc)


def test_the_elbo_is_the_reconstruction_log_likelihood(pair):
    model, guide = pair
    loc, _ = guide.encode(*BATCH)
    expected = -model.likelihood(loc, *BATCH).log_prob(BATCH[0]).sum()
    for seed in range(2):
        pyro.set_rng_seed(seed)
        assert Trace_ELBO().loss(model, guide, *BATCH) == pytest.approx(expected.item(), abs=1e-4)


def test_prior_samples_come_from_a_standard_normal(pair):
    model, _ = pair
    out = pyro.infer.Predictive(model, num_samples=2, return_sites=["z", "x"])(
        None, max_length=5, num_sentences=3
    )
    assert out["z"].shape == (2, 3, 4) and out["x"].shape[:2] == (2, 3)


def test_evaluation_reports_reconstruction_not_a_bound(pair):
    from ppl_vae.data.sentences import load_sentence_data

    model, guide = pair
    data = load_sentence_data("synthetic")
    model = SentenceAutoencoder(len(data.vocab), latent_dim=4, **SIZES).eval()
    guide = DeterministicEncoderGuide(len(data.vocab), latent_dim=4, **SIZES).eval()
    test = data.test.subset(range(20))
    ev = evaluate(model, guide, test, num_samples=7, seed=0)
    assert ev.reconstruction and ev.num_samples == 1 and ev.kl == 0.0
    assert ev.elbo == pytest.approx(-ev.nll_iw)
    assert ev.to_dict()["reconstruction"] is True
