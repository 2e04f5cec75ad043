import math

import numpy as np
import pytest
import torch

from ppl_vae.evaluation import (
    active_units,
    estimate_items,
    evaluate,
    perplexity_corpus,
    perplexity_per_document,
)
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM


def exact_log_px(model: NVDM, x: torch.Tensor) -> np.ndarray:
    """log p(x) of a 1-dim-latent NVDM by quadrature on a fine grid, in float64."""
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    W = model.decoder.weight.detach().double()[:, 0]
    b = model.decoder.bias.detach().double()
    logp = torch.log_softmax(z[:, None] * W + b, -1)  # (G, V)
    log_joint = x.double() @ logp.T - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)  # (D, G)
    dz = z[1] - z[0]
    return (torch.logsumexp(log_joint, 1) + math.log(dz)).numpy()


@pytest.fixture
def one_dim_problem():
    torch.manual_seed(0)
    V, D = 6, 30
    model = NVDM(V, latent_dim=1)
    with torch.no_grad():
        model.decoder.weight.copy_(torch.randn(V, 1) * 1.5)
    guide = DiagonalGaussianGuide(V, 1, hidden_sizes=(8,))  # untrained: a mediocre proposal
    with torch.no_grad():
        guide.log_scale.bias.fill_(-0.3)
    x = torch.distributions.Multinomial(8, logits=torch.randn(D, V)).sample()
    return model, guide, x


def estimates(model, guide, x, S):
    return estimate_items(model, guide, [((x,), x.sum(-1))], num_samples=S)


def test_elbo_below_importance_estimate_below_exact(one_dim_problem):
    model, guide, x = one_dim_problem
    exact = exact_log_px(model, x)
    est = estimates(model, guide, x, S=2000)
    assert est.elbo.dtype == np.float64 and est.log_px.dtype == np.float64
    assert (est.elbo < est.log_px).all()  # log-mean-exp >= mean, per document
    # the IW estimate is a lower bound in expectation; per document it carries Monte Carlo noise
    assert (est.log_px - exact).mean() <= 0.01
    assert (est.log_px <= exact + 0.15).all()
    assert (exact - est.elbo).mean() > 1.0  # the guide is imperfect: a real Jensen gap


def test_importance_estimate_converges_to_exact(one_dim_problem):
    model, guide, x = one_dim_problem
    exact = exact_log_px(model, x)
    errors = {S: np.abs(estimates(model, guide, x, S).log_px - exact).mean() for S in (1, 10, 5000)}
    assert errors[1] > errors[10] > errors[5000]
    assert errors[5000] < 0.015  # a wrong normalization would be off by about log S


def test_importance_estimate_is_per_document():
    """Doubling one document must not change another's estimate (no joint batch weighting)."""
    torch.manual_seed(1)
    model, guide = NVDM(5, 2), DiagonalGaussianGuide(5, 2, hidden_sizes=(4,))
    x = torch.randint(0, 3, (3, 5)).float() + 1
    torch.manual_seed(5)
    a = estimates(model, guide, x, 50).log_px
    x2 = x.clone()
    x2[0] *= 20
    torch.manual_seed(5)
    b = estimates(model, guide, x2, 50).log_px
    assert np.allclose(a[1:], b[1:]) and not np.isclose(a[0], b[0])


def test_perplexity_definitions():
    log_p = np.array([-10.0, -40.0])
    N = np.array([2.0, 20.0])
    assert perplexity_per_document(log_p, N) == pytest.approx(math.exp((5 + 2) / 2))
    assert perplexity_corpus(log_p, N) == pytest.approx(math.exp(50 / 22))


def test_perplexity_does_not_overflow_for_long_documents():
    log_p = np.array([-1e6, -2e6])
    assert np.isfinite(perplexity_corpus(log_p, np.array([2e5, 3e5])))


def test_active_units_counts_dimensions_with_varying_means():
    rng = np.random.default_rng(0)
    means = np.column_stack([rng.normal(0, 1, 500), rng.normal(0, 0.05, 500), np.zeros(500)])
    assert active_units(means) == 1


def test_mutual_information_estimator_at_its_extremes():
    from ppl_vae.evaluation import mutual_information

    torch.manual_seed(0)
    B, K = 200, 3
    separated = (torch.randn(B, K) * 20, torch.full((B, K), 0.01))
    mi = mutual_information(lambda _: separated, [((None,), None)])
    assert mi == pytest.approx(math.log(B), abs=0.1)  # z identifies x: I = log B
    same = (torch.zeros(B, K), torch.ones(B, K))
    assert abs(mutual_information(lambda _: same, [((None,), None)])) < 0.15  # q ignores x


def test_evaluation_in_length_order_sums_the_same_sentences():
    from ppl_vae.config import TrainConfig
    from ppl_vae.data.sentences import make_synthetic_sentences
    from ppl_vae.data.synthetic_sentences import SentenceSpec
    from ppl_vae.evaluation import evaluate, summarize
    from ppl_vae.runs.registry import build

    corpus = make_synthetic_sentences(SentenceSpec(train=20, valid=5, test=60, seed=1)).test
    config = TrainConfig(model="rnnlm", guide="none", model_kwargs={"embedding_dim": 8})
    torch.manual_seed(0)
    model, guide = build(config, corpus.vocab_size)  # exact NLL: no sampling noise
    in_order = summarize(estimate_items(model, guide, corpus.eval_batches(7), num_samples=1))
    by_length = evaluate(model, guide, corpus, num_samples=1, batch_size=7)
    assert len(set(corpus.lengths.tolist())) > 3  # the two groupings really differ
    assert by_length.elbo == pytest.approx(in_order.elbo, rel=1e-6)
    assert by_length.ppl_corpus_elbo == pytest.approx(in_order.ppl_corpus_elbo, rel=1e-6)
    assert by_length.tokens == in_order.tokens == corpus.num_tokens


@pytest.mark.parametrize("kind", ["sentences", "documents"])
def test_evaluation_batches_default_to_the_corpus_eval_batch_size(kind, tiny_corpus):
    from ppl_vae.config import TrainConfig
    from ppl_vae.data.sentences import make_synthetic_sentences
    from ppl_vae.data.synthetic_sentences import SentenceSpec
    from ppl_vae.evaluation import evaluate
    from ppl_vae.runs.registry import build

    if kind == "sentences":
        corpus = make_synthetic_sentences(SentenceSpec(train=20, valid=5, test=70, seed=1)).test
        config = TrainConfig(model="rnnlm", guide="none", model_kwargs={"embedding_dim": 8})
        expected = 32  # each sample scores (B, T, V) logits
    else:
        corpus = tiny_corpus.train
        config = TrainConfig(model="nvdm", guide="diagonal", guide_kwargs={"hidden_sizes": [8]})
        expected = 500
    assert corpus.eval_batch_size == expected
    sizes = []
    batches = corpus.eval_batches

    def spy(batch_size, *args, **kwargs):
        for batch in batches(batch_size, *args, **kwargs):
            sizes.append(len(batch[1]))
            yield batch

    corpus.eval_batches = spy
    torch.manual_seed(0)
    model, guide = build(config, corpus.vocab_size)
    ev = evaluate(model, guide, corpus, num_samples=1)
    assert ev.documents == len(corpus)
    assert max(sizes) == min(expected, len(corpus))


def test_an_empty_document_does_not_change_the_perplexities(tiny_corpus):
    """Three documents plus an empty one used to score as a quarter of the per-document
    perplexity's exponent lower (the empty one took the next one's length, or divided by 0)."""
    import pyro

    from ppl_vae.data.bow import BowCorpus
    from ppl_vae.evaluation import evaluate

    dense = tiny_corpus.test.dense(range(3)).numpy()
    with_empty = np.concatenate([dense, np.zeros((1, dense.shape[1]))])
    V = tiny_corpus.test.vocab_size
    model, guide = NVDM(V, 3), DiagonalGaussianGuide(V, 3, hidden_sizes=(8,))
    results = []
    for rows in (dense, with_empty):
        pyro.set_rng_seed(0)
        results.append(evaluate(model, guide, BowCorpus.from_dense(rows, tiny_corpus.vocab), 20))
    assert results[1].documents == 3
    assert results[0].ppl_doc_iw == pytest.approx(results[1].ppl_doc_iw)
    assert results[0].ppl_doc_elbo == pytest.approx(results[1].ppl_doc_elbo)


def test_one_entry_point_evaluates_an_exact_model_without_a_guide(tiny_corpus):
    from ppl_vae.infer.em import fit_em

    fit = fit_em(tiny_corpus.train, 3, iterations=5, restarts=1)
    ev = evaluate(fit, None, tiny_corpus.test)
    exact = fit.perplexity(tiny_corpus.test)
    assert ev.exact and ev.num_samples == 0 and ev.documents == len(tiny_corpus.test)
    assert ev.ppl_doc_elbo == ev.ppl_doc_iw == pytest.approx(exact["per_document"], rel=1e-12)
    assert ev.ppl_corpus_iw == pytest.approx(exact["corpus"], rel=1e-12)
    assert 1 <= ev.active_units <= 3 and ev.kl >= 0


def test_a_model_without_a_guide_must_evaluate_itself(tiny_corpus):
    with pytest.raises(TypeError, match="needs a guide"):
        evaluate(NVDM(tiny_corpus.train.vocab_size, 3), None, tiny_corpus.test)


def test_a_model_without_a_latent_is_scored_exactly_once():
    from ppl_vae.data.sentences import load_sentence_data
    from ppl_vae.guides import NoLatentGuide
    from ppl_vae.models import RNNLM

    data = load_sentence_data()
    model = RNNLM(len(data.vocab), embedding_dim=8, hidden_dim=8)
    once = evaluate(model, NoLatentGuide(), data.test, num_samples=1)
    many = evaluate(model, NoLatentGuide(), data.test, num_samples=50)
    assert many.exact and many.num_samples == 1
    assert many.ppl_doc_iw == once.ppl_doc_iw == many.ppl_doc_elbo
