"""What the three sentence guides share through :class:`SentenceGaussianGuide`."""

import pyro
import pytest
import torch
from pyro import poutine

from ppl_vae.guides import LSTMEncoderGuide
from ppl_vae.guides.bilstm_encoder import BiLSTMEncoderGuide
from ppl_vae.guides.mean_pool_encoder import MeanPoolEncoderGuide
from ppl_vae.guides.sentence_gaussian import SentenceGaussianGuide
from ppl_vae.ops.params import param_name

V, K = 12, 3
EOS, PAD = 2, 0
TOKENS = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD], [8, 9, EOS, PAD]])
LENGTHS = torch.tensor([4, 2, 3])
GUIDES = [LSTMEncoderGuide, BiLSTMEncoderGuide, MeanPoolEncoderGuide]
GUIDE_IDS = ["lstm", "bilstm", "mean-pool"]


def make(cls):
    return cls(V, latent_dim=K, embedding_dim=6, hidden_dim=8)


def test_lstm_encoder_keeps_its_state_dict_keys_and_param_names():
    guide = make(LSTMEncoderGuide)
    assert list(guide.state_dict()) == [
        "embedding.weight",
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "loc.weight",
        "loc.bias",
        "log_scale.weight",
        "log_scale.bias",
    ]
    guide(TOKENS, LENGTHS)
    assert param_name(guide, "lstm_encoder").startswith("lstm_encoder")
    assert f"{param_name(guide, 'lstm_encoder')}$$$embedding.weight" in pyro.get_param_store()


@pytest.mark.parametrize("cls", GUIDES, ids=GUIDE_IDS)
def test_each_guide_is_a_sentence_gaussian_guide_with_its_own_param_names(cls):
    guide = make(cls)
    assert isinstance(guide, SentenceGaussianGuide)
    assert guide.vocab_size == V and guide.latent_dim == K
    guide(TOKENS, LENGTHS)
    names = list(pyro.get_param_store())
    prefix = param_name(guide, cls.module_name)
    assert prefix.startswith(cls.module_name)
    assert names and all(n.startswith(prefix + "$$$") for n in names)
    assert {f"{prefix}$$${k}" for k in guide.state_dict()} == set(names)


@pytest.mark.parametrize("cls", GUIDES, ids=GUIDE_IDS)
def test_log_scale_starts_at_zero_and_is_floored(cls):
    guide = make(cls)
    _, scale = guide.encode(TOKENS, LENGTHS)
    assert torch.equal(scale, torch.ones(3, K))
    with torch.no_grad():
        guide.log_scale.bias.fill_(-50.0)
    _, scale = guide.encode(TOKENS, LENGTHS)
    assert torch.allclose(scale, torch.full((3, K), torch.tensor(-10.0).exp().item()))


@pytest.mark.parametrize("cls", GUIDES, ids=GUIDE_IDS)
@pytest.mark.parametrize(
    "beta, scale, masked",
    [(1.0, 1.0, False), (0.3, 0.3, False), (0.0, 1.0, True)],
    ids=["beta=1", "beta=0.3", "beta=0-masked"],
)
def test_annealing_factor_weights_the_latent_site(cls, beta, scale, masked):
    tr = poutine.trace(make(cls)).get_trace(TOKENS, LENGTHS, annealing_factor=beta)
    assert tr.nodes["z"]["scale"] == scale
    assert (tr.nodes["z"]["mask"] is False) == masked


def test_the_base_has_no_features():
    with pytest.raises(NotImplementedError):
        SentenceGaussianGuide(V, K).features(TOKENS, LENGTHS)
