"""The particle-batched sentence estimator gives the trace-based estimates, with the same draws."""

import numpy as np
import pytest
import torch

from ppl_vae.data.sentences import make_synthetic_sentences
from ppl_vae.data.synthetic_sentences import SentenceSpec
from ppl_vae.evaluation import evaluate, fast_documents, particles
from ppl_vae.evaluation.estimates import estimate_items
from ppl_vae.guides import (
    BiLSTMEncoderGuide,
    DiagonalGaussianGuide,
    LSTMEncoderGuide,
    MeanPoolEncoderGuide,
)
from ppl_vae.models import NVDM, RNNLM, SentenceVAE

GUIDES = {"lstm": LSTMEncoderGuide, "bilstm": BiLSTMEncoderGuide, "mean-pool": MeanPoolEncoderGuide}


@pytest.fixture(scope="module")
def sentences():
    return make_synthetic_sentences(SentenceSpec(train=40, valid=5, test=30))


@pytest.mark.parametrize("chunk", [1, 3, None], ids=["chunk-1", "chunk-3", "chunk-default"])
@pytest.mark.parametrize("guide_name", sorted(GUIDES))
def test_it_equals_the_trace_based_estimates_with_the_same_draws(sentences, guide_name, chunk):
    torch.manual_seed(0)
    V = len(sentences.vocab)
    model = SentenceVAE(V, latent_dim=4, embedding_dim=8, hidden_dim=16).eval()
    guide = GUIDES[guide_name](V, latent_dim=4, embedding_dim=8, hidden_dim=16).eval()
    with torch.no_grad():
        model.init_state.weight.mul_(5)  # z matters to the decoder
    batches = list(sentences.test.eval_batches(8, by_length=True))
    torch.manual_seed(5)
    traced = estimate_items(model, guide, batches, num_samples=7)
    torch.manual_seed(5)
    batched = particles.estimate_particles(model, guide, batches, 7, chunk=chunk, vocab_size=V)
    for name in ("elbo", "log_px", "kl", "log_likelihood", "latent_mean", "tokens"):
        np.testing.assert_allclose(
            getattr(batched, name), getattr(traced, name), rtol=1e-5, atol=1e-4
        )
    assert np.ptp(traced.log_px - traced.elbo) > 1e-3  # the samples differ between sentences


def test_evaluate_takes_it_for_the_sentence_vae_only(sentences):
    V = len(sentences.vocab)
    vae = SentenceVAE(V, latent_dim=4, embedding_dim=8, hidden_dim=16)
    assert particles.applies(vae, LSTMEncoderGuide(V, 4, embedding_dim=8, hidden_dim=16))
    assert not fast_documents.applies(vae, LSTMEncoderGuide(V, 4, embedding_dim=8, hidden_dim=16))
    assert not particles.applies(NVDM(V, 4), DiagonalGaussianGuide(V, 4))
    lm = RNNLM(V, embedding_dim=8, hidden_dim=16)
    assert not particles.applies(lm, None)
    ev = evaluate(vae, LSTMEncoderGuide(V, 4, embedding_dim=8, hidden_dim=16), sentences.test, 5)
    assert ev.documents == len(sentences.test) and np.isfinite(ev.ppl_doc_iw)
