import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.evaluation import latent_sites
from ppl_vae.guides.bilstm_encoder import BiLSTMEncoderGuide
from ppl_vae.models import SentenceVAE

V, K, H = 12, 3, 8
EOS, PAD = 2, 0
TOKENS = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD], [8, 9, EOS, PAD]])
LENGTHS = torch.tensor([4, 2, 3])
PADDING = TOKENS == PAD


def pair(**kwargs):
    model = SentenceVAE(V, latent_dim=K, embedding_dim=6, hidden_dim=H, **kwargs)
    return model, BiLSTMEncoderGuide(V, latent_dim=K, embedding_dim=6, hidden_dim=H)


def test_guide_samples_the_model_sites_with_their_shapes():
    model, guide = pair()
    g = poutine.trace(guide).get_trace(TOKENS, LENGTHS)
    m = poutine.trace(poutine.replay(model, trace=g)).get_trace(TOKENS, LENGTHS)
    assert [s["name"] for s in latent_sites(m)] == [s["name"] for s in latent_sites(g)] == ["z"]
    assert g.nodes["z"]["fn"].batch_shape == m.nodes["z"]["fn"].batch_shape == (3,)
    assert g.nodes["z"]["fn"].event_shape == m.nodes["z"]["fn"].event_shape == (K,)
    assert [f.name for f in g.nodes["z"]["cond_indep_stack"]] == ["sentences"]
    assert torch.equal(g.nodes["z"]["value"], m.nodes["z"]["value"])


def test_features_concatenate_the_final_forward_and_backward_states():
    _, guide = pair()
    with torch.no_grad():
        features = guide.features(TOKENS, LENGTHS)
        assert features.shape == (3, 2 * H)
        for i, n in enumerate(LENGTHS.tolist()):
            out, _ = guide.lstm(guide.embedding(TOKENS[i : i + 1, :n]))  # (1, n, 2H), no padding
            forward_last, backward_first = out[0, n - 1, :H], out[0, 0, H:]
            assert torch.allclose(features[i], torch.cat([forward_last, backward_first]), atol=1e-6)


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
    loc, scale = guide.encode(TOKENS, LENGTHS)
    loc2, scale2 = guide.encode(tokens, LENGTHS)
    assert torch.allclose(loc2, loc, atol=1e-6) and torch.allclose(scale2, scale, atol=1e-6)
    # and each sentence alone, unpadded, gets what it gets in the batch
    for i, n in enumerate(LENGTHS.tolist()):
        alone, alone_scale = guide.encode(TOKENS[i : i + 1, :n], LENGTHS[i : i + 1])
        assert torch.allclose(alone[0], loc[i], atol=1e-6)
        assert torch.allclose(alone_scale[0], scale[i], atol=1e-6)


def test_both_ends_of_the_sentence_move_the_encoding():
    _, guide = pair()
    loc, _ = guide.encode(TOKENS, LENGTHS)
    first, last = TOKENS.clone(), TOKENS.clone()
    first[0, 0], last[0, 2] = 10, 10
    assert not torch.allclose(guide.encode(first, LENGTHS)[0][0], loc[0])
    assert not torch.allclose(guide.encode(last, LENGTHS)[0][0], loc[0])


@pytest.mark.parametrize("word_dropout", [0.0, 0.3], ids=["no-dropout", "word-dropout"])
def test_svi_with_the_sentence_vae_gives_a_finite_changing_loss(word_dropout):
    model, guide = pair(word_dropout=word_dropout)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), TraceMeanField_ELBO())
    losses = [svi.step(TOKENS, LENGTHS, annealing_factor=0.5) for _ in range(40)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    assert all(p.grad is not None for p in guide.lstm.parameters())
