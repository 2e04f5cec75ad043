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


def _mixture_prior(model: NVDM) -> NVDM:
    """Give NVDM's learned mixture prior components far from N(0, I)."""
    with torch.no_grad():
        model.prior_loc.mul_(4)
        model.prior_log_scale.uniform_(-1.0, 0.5)
        model.prior_logits.normal_()
    return model


@pytest.mark.parametrize("components", [0, 3], ids=["standard-normal-prior", "mixture-prior"])
@pytest.mark.parametrize("chunk", [1, 7, 50], ids=["chunk-1", "chunk-7", "chunk-50"])
def test_it_equals_the_trace_based_estimates_with_the_same_draws(tiny_corpus, chunk, components):
    V = tiny_corpus.train.vocab_size
    torch.manual_seed(0)
    model = NVDM(V, 4, prior_components=components).eval()
    guide = DiagonalGaussianGuide(V, 4, hidden_sizes=(16,)).eval()
    with torch.no_grad():
        model.decoder.weight.mul_(20)  # a decoder far from uniform, so z matters
    if components:
        _mixture_prior(model)
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
    assert fast_documents.applies(NVDM(V, 4, prior_components=3), DiagonalGaussianGuide(V, 4))
    assert fast_documents.applies(nvdm, OneLayerGaussianGuide(V, 4))
    assert not fast_documents.applies(nvdm, IAFGuide(V, 4))  # q is not Gaussian
    assert not fast_documents.applies(nvdm, SemiAmortizedGuide(V, 4, model=nvdm))  # refines q
    assert not fast_documents.applies(SigmoidBeliefNetwork(V, 4), BernoulliGuide(V, 4))


def _pair(corpus, sharpen=20.0):
    torch.manual_seed(0)
    V = corpus.train.vocab_size
    model, guide = NVDM(V, 4).eval(), DiagonalGaussianGuide(V, 4, hidden_sizes=(16,)).eval()
    with torch.no_grad():
        model.decoder.weight.mul_(sharpen)  # far from uniform: the untrained encoder's q is poor
    return model, guide


def _elbo_difference(model, x, start, refined, draws=4000, log_prior=None):
    """Per-document ELBO of ``refined`` minus that of ``start`` from the same ``draws`` draws,
    with its standard error."""
    R, b = model.decoder.weight, model.decoder.bias
    xr, xb, n = x @ R, x @ b, x.sum(-1)
    eps = torch.randn(draws, *start[0].shape)
    with torch.no_grad():
        new = fast_documents._log_weights(R, b, xr, xb, n, *refined, eps, log_prior)[0]
        old = fast_documents._log_weights(R, b, xr, xb, n, *start, eps, log_prior)[0]
    diff = new - old  # (draws, B) float64
    return diff.mean(0), diff.std(0) / draws**0.5


@pytest.mark.parametrize("lr", [0.02, 30.0], ids=["chosen-lr", "lr-that-diverges"])
def test_refinement_never_lowers_a_documents_elbo(tiny_corpus, lr):
    model, guide = _pair(tiny_corpus)
    (x,) = tiny_corpus.test.make_batch(range(40))
    torch.manual_seed(1)
    with torch.no_grad():
        start = guide.encode(x)
        refined = fast_documents.refine(model.decoder.weight, model.decoder.bias, x, *start, 30,
                                        lr=lr)  # fmt: skip
    gain, se = _elbo_difference(model, x, start, refined)
    assert (gain >= -4 * se - 1e-9).all()  # no document's ELBO falls beyond noise
    kept = (refined[0] == start[0]).all(-1)
    if lr == 0.02:
        assert gain.mean() > 1.0 and not kept.all()  # it climbs: nats per document
    else:  # steps of 30 overshoot: most documents keep the encoder's q, exactly
        assert kept.sum() >= 20
        assert torch.equal(refined[1][kept], start[1][kept])


def test_evaluate_with_refinement_reports_the_encoders_elbo_and_the_gap(tiny_corpus):
    from ppl_vae.evaluation import evaluate

    model, guide = _pair(tiny_corpus, sharpen=4.0)
    plain = evaluate(model, guide, tiny_corpus.test, num_samples=500, seed=3)
    refined = evaluate(model, guide, tiny_corpus.test, num_samples=500, seed=3, refine_steps=30)
    assert refined.ppl_doc_elbo < plain.ppl_doc_elbo and refined.ppl_doc_iw < plain.ppl_doc_iw
    assert refined.amortization_gap > 1.0
    # the encoder's ELBO comes from the refined estimate's draws: close to the plain figure
    assert refined.ppl_doc_elbo_encoder == pytest.approx(plain.ppl_doc_elbo, rel=0.02)
    figures, plain_figures = refined.to_dict(), plain.to_dict()
    assert figures["refine_steps"] == 30 and "amortization_gap" in figures
    assert plain_figures["refine_steps"] == 0 and "amortization_gap" not in plain_figures


def test_refinement_is_refused_where_it_does_not_apply(tiny_corpus):
    from ppl_vae.evaluation import evaluate

    V = tiny_corpus.train.vocab_size
    with pytest.raises(ValueError, match="closed-form Gaussian guide"):
        evaluate(NVDM(V, 4), IAFGuide(V, 4), tiny_corpus.test, 5, refine_steps=10)


def test_refinement_under_a_mixture_prior_climbs_and_leaves_the_model_alone(tiny_corpus):
    torch.manual_seed(0)
    V = tiny_corpus.train.vocab_size
    model = _mixture_prior(NVDM(V, 4, prior_components=3)).eval()
    guide = DiagonalGaussianGuide(V, 4, hidden_sizes=(16,)).eval()
    with torch.no_grad():
        model.decoder.weight.mul_(20)
    log_prior = fast_documents.prior_log_density(model)
    (x,) = tiny_corpus.test.make_batch(range(40))
    torch.manual_seed(1)
    with torch.no_grad():
        start = guide.encode(x)
        refined = fast_documents.refine(model.decoder.weight, model.decoder.bias, x, *start, 30,
                                        log_prior=log_prior)  # fmt: skip
    assert all(p.grad is None for p in model.parameters())  # no gradient reached the model
    gain, se = _elbo_difference(model, x, start, refined, log_prior=log_prior)
    assert (gain >= -4 * se - 1e-9).all()  # no document's ELBO falls beyond noise
    assert gain.mean() > 1.0  # and the batch climbs, in nats per document
    # under N(0, I) the same function with the prior's log density gives the closed forms
    plain = NVDM(V, 4)
    z = torch.randn(5, 40, 4)
    general = plain.prior(40, z).log_prob(z)
    np.testing.assert_allclose(
        fast_documents.log_weights(z.sum(-1), z, *start)[0],
        fast_documents.log_weights(z.sum(-1), z, *start, lambda t: general)[0],
        rtol=1e-6,
    )
