"""The closed-form document estimator gives the trace-based estimates, with the same draws."""

import numpy as np
import pytest
import torch

from ppl_vae.evaluation import fast_documents
from ppl_vae.evaluation.estimates import estimate_items
from ppl_vae.guides import (
    BernoulliGuide,
    DiagonalGaussianGuide,
    IAFGuide,
    OneLayerGaussianGuide,
    SemiAmortizedGuide,
)
from ppl_vae.models import NVDM, SigmoidBeliefNetwork


@pytest.mark.parametrize("chunk", [1, 7, 50], ids=["chunk-1", "chunk-7", "chunk-50"])
def test_it_equals_the_trace_based_estimates_with_the_same_draws(tiny_corpus, chunk):
    V = tiny_corpus.train.vocab_size
    model, guide = NVDM(V, 4).eval(), DiagonalGaussianGuide(V, 4, hidden_sizes=(16,)).eval()
    with torch.no_grad():
        model.decoder.weight.mul_(20)  # a decoder far from uniform, so z matters
    batches = list(tiny_corpus.test.eval_batches(25, by_length=True))
    torch.manual_seed(5)
    traced = estimate_items(model, guide, batches, num_samples=20)
    torch.manual_seed(5)
    fast = fast_documents.estimate_documents(model, guide, batches, 20, chunk=chunk)
    for name in ("elbo", "log_px", "kl", "log_likelihood", "latent_mean", "tokens"):
        np.testing.assert_allclose(getattr(fast, name), getattr(traced, name), rtol=1e-6, atol=1e-3)
    assert np.ptp(traced.log_px - traced.elbo) > 0.01  # the samples differ between documents


def test_it_applies_only_where_its_closed_form_holds(tiny_corpus):
    V = tiny_corpus.train.vocab_size
    nvdm = NVDM(V, 4)
    assert fast_documents.applies(nvdm, DiagonalGaussianGuide(V, 4))
    assert fast_documents.applies(nvdm, OneLayerGaussianGuide(V, 4))
    assert not fast_documents.applies(nvdm, IAFGuide(V, 4))  # q is not Gaussian
    assert not fast_documents.applies(nvdm, SemiAmortizedGuide(V, 4, model=nvdm))  # refines q
    assert not fast_documents.applies(SigmoidBeliefNetwork(V, 4), BernoulliGuide(V, 4))
