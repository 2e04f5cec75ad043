import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.evaluation import latent_sites
from ppl_vae.guides.mean_pool_encoder import MeanPoolEncoderGuide
from ppl_vae.models import SentenceVAE

V, K, E, H = 12, 3, 6, 8
EOS, PAD = 2, 0
TOKENS = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD], [8, 9, EOS, PAD]])
LENGTHS = torch.tensor([4, 2, 3])
PADDING = TOKENS == PAD


def pair(**kwargs):
    model = SentenceVAE(V, latent_dim=K, embedding_dim=E, hidden_dim=H, **kwargs)
    return model, MeanPoolEncoderGuide(V, latent_dim=K, embedding_dim=E, hidden_dim=H)


def test_guide_samples_the_model_sites_with_their_shapes():
    model, guide = pair()
    g = poutine.trace(guide).get_trace(TOKENS, LENGTHS)
    m = poutine.trace(poutine.replay(model, trace=g)).get_trace(TOKENS, LENGTHS)
    assert [s["name"] for s in latent_sites(m)] == [s["name"] for s in latent_sites(g)] == ["z"]
    assert g.nodes["z"]["fn"].batch_shape == m.nodes["z"]["fn"].batch_shape == (3,)
    assert g.nodes["z"]["fn"].event_shape == m.nodes["z"]["fn"].event_shape == (K,)
    assert [f.name for f in g.nodes["z"]["cond_indep_stack"]] == ["sentences"]
    assert torch.equal(g.nodes["z"]["value"], m.nodes["z"]["value"])


def test_features_are_the_hidden_layer_of_the_mean_embedding():
    _, guide = pair()
    with torch.no_grad():
        features = guide.features(TOKENS, LENGTHS)
        for i, n in enumerate(LENGTHS.tolist()):
            mean = guide.embedding(TOKENS[i, :n]).mean(0)
            assert torch.allclose(features[i], torch.relu(guide.body[0](mean)), atol=1e-6)


def test_word_order_does_not_matter():
    _, guide = pair()
    loc, scale = guide.encode(TOKENS, LENGTHS)
    shuffled = TOKENS.clone()
    shuffled[0, :3] = TOKENS[0, [2, 0, 1]]
    loc2, scale2 = guide.encode(shuffled, LENGTHS)
    assert torch.allclose(loc2, loc, atol=1e-6) and torch.allclose(scale2, scale, atol=1e-6)


@pytest.mark.parametrize(
    "tokens",
    [
        TOKENS.masked_fill(PADDING, 11),
        torch.cat([TOKENS, torch.full((3, 5), PAD)], dim=1),
        torch.cat([TOKENS.masked_fill(PADDING, 5), torch.randint(3, V, (3, 5))], dim=1),
    ],
    ids=["words-in-the-padding", "extra-pad-columns", "extra-word-columns"],
)
def test_padding_never_changes_loc_or_scale(tokens):
    _, guide = pair()
    # a trained <pad> embedding need not stay zero: the masking must not rely on it
    with torch.no_grad():
        guide.embedding.weight[PAD].normal_()
    loc, scale = guide.encode(TOKENS, LENGTHS)
    loc2, scale2 = guide.encode(tokens, LENGTHS)
    assert torch.allclose(loc2, loc, atol=1e-6) and torch.allclose(scale2, scale, atol=1e-6)
    for i, n in enumerate(LENGTHS.tolist()):
        alone, alone_scale = guide.encode(TOKENS[i : i + 1, :n], LENGTHS[i : i + 1])
        assert torch.allclose(alone[0], loc[i], atol=1e-6)
        assert torch.allclose(alone_scale[0], scale[i], atol=1e-6)


@pytest.mark.parametrize("word_dropout", [0.0, 0.3], ids=["no-dropout", "word-dropout"])
def test_svi_with_the_sentence_vae_gives_a_finite_changing_loss(word_dropout):
    model, guide = pair(word_dropout=word_dropout)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), TraceMeanField_ELBO())
    losses = [svi.step(TOKENS, LENGTHS, annealing_factor=0.5) for _ in range(40)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    assert guide.embedding.weight.grad is not None
