import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.evaluation import estimate_items, latent_sites
from ppl_vae.guides import LSTMEncoderGuide
from ppl_vae.models import SentenceVAE

V, K = 12, 3
EOS, PAD = 2, 0
TOKENS = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD], [8, 9, EOS, PAD]])
LENGTHS = torch.tensor([4, 2, 3])


def pair(**kwargs):
    model = SentenceVAE(V, latent_dim=K, embedding_dim=6, hidden_dim=8, **kwargs)
    return model, LSTMEncoderGuide(V, latent_dim=K, embedding_dim=6, hidden_dim=8)


def test_guide_samples_the_model_sites_with_their_shapes():
    model, guide = pair()
    g = poutine.trace(guide).get_trace(TOKENS, LENGTHS)
    m = poutine.trace(poutine.replay(model, trace=g)).get_trace(TOKENS, LENGTHS)
    assert [s["name"] for s in latent_sites(m)] == [s["name"] for s in latent_sites(g)] == ["z"]
    assert g.nodes["z"]["fn"].batch_shape == m.nodes["z"]["fn"].batch_shape == (3,)
    assert g.nodes["z"]["fn"].event_shape == m.nodes["z"]["fn"].event_shape == (K,)
    assert [f.name for f in g.nodes["z"]["cond_indep_stack"]] == ["sentences"]


def test_encoder_starts_at_unit_scale_and_ignores_padding():
    _, guide = pair()
    loc, scale = guide.encode(TOKENS, LENGTHS)
    assert torch.equal(scale, torch.ones(3, K))
    alone, _ = guide.encode(TOKENS[1:2, :2], LENGTHS[1:2])
    assert torch.allclose(alone[0], loc[1], atol=1e-6)


@pytest.mark.parametrize("word_dropout", [0.0, 0.3], ids=["no-dropout", "word-dropout"])
def test_svi_lowers_the_loss_on_a_fixed_batch(word_dropout):
    model, guide = pair(word_dropout=word_dropout)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), TraceMeanField_ELBO())
    losses = [svi.step(TOKENS, LENGTHS, annealing_factor=0.5) for _ in range(60)]
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])


def test_elbo_is_below_the_importance_sampled_estimate_per_sentence():
    model, guide = pair()
    model.eval()
    est = estimate_items(model, guide, [((TOKENS, LENGTHS), LENGTHS.numpy())], num_samples=30)
    assert est.elbo.shape == est.log_px.shape == (3,)
    assert (est.elbo <= est.log_px).all() and np.isfinite(est.elbo).all()
    assert est.tokens.tolist() == [4, 2, 3] and est.latent_mean.shape == (3, K)
