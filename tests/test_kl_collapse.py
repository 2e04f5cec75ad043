"""The tale of two decoders on AAA / BBB / CCC: the expected KL in each regime."""

import math

import pyro
import pytest

from ppl_vae.config import TrainConfig
from ppl_vae.data.toy import abc_bags, abc_sentences
from ppl_vae.evaluation import evaluate
from ppl_vae.guides import DiagonalGaussianGuide, LSTMEncoderGuide
from ppl_vae.models import NVDM, SentenceVAE
from ppl_vae.training import train

LOG3 = math.log(3)


def trained_kl(kind, model_kwargs=None, **config):
    pyro.set_rng_seed(0)
    data = abc_bags() if kind == "bow" else abc_sentences()
    V = data.train.vocab_size
    if kind == "bow":
        model, guide = NVDM(V, 2), DiagonalGaussianGuide(V, 2, hidden_sizes=(16,))
    else:
        model = SentenceVAE(V, 2, embedding_dim=8, hidden_dim=16, **(model_kwargs or {}))
        guide = LSTMEncoderGuide(V, 2, embedding_dim=8, hidden_dim=16)
    cfg = TrainConfig(latent_dim=2, epochs=30, batch_size=30, lr=1e-2, lr_decay=1.0, **config)
    train(model, guide, data.train, None, cfg, progress=False)
    return evaluate(model, guide, data.test, num_samples=20).kl


@pytest.mark.parametrize(
    "kind, model_kwargs, config, low, high",
    [
        ("bow", None, {}, 0.8, 1.8),
        ("lstm", None, {}, 0.0, 0.2),
        ("lstm", {"word_dropout": 1.0}, {}, 0.8, 2.0),
        ("lstm", None, {"objective": "free-bits", "free_bits": 0.5}, 0.8, 1.8),
    ],
    ids=["bag-of-words-uses-z", "lstm-collapses", "inputless-lstm-uses-z", "free-bits-hold-kl"],
)
def test_kl_in_each_regime(kind, model_kwargs, config, low, high):
    kl = trained_kl(kind, model_kwargs, **config)
    assert low <= kl <= high, f"KL {kl:.3f} not in [{low}, {high}] (log 3 = {LOG3:.3f})"
