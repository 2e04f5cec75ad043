"""DocNADE: the exact log-likelihood against a hand loop over the words, the order, the Pyro
sites, and training on the embedded corpus."""

import math

import pyro
import pytest
import torch
from pyro import poutine

from ppl_vae.evaluation import evaluate
from ppl_vae.guides import NoLatentGuide
from ppl_vae.models import DocNADE


def hand_log_likelihood(model: DocNADE, order: list[int]) -> float:
    """``sum_i log softmax(b + V sigmoid(c + sum_{k<i} W[v_k]))[v_i]``, one word at a time."""
    acc, total = model.hidden_bias.detach().clone(), 0.0
    for word in order:
        logits = model.output(torch.sigmoid(acc))
        total += float(torch.log_softmax(logits, -1)[word].detach())
        acc = acc + model.embedding.weight[word]
    return total


def test_log_likelihood_equals_a_hand_loop_over_the_ordered_words():
    torch.manual_seed(0)
    model = DocNADE(vocab_size=12, hidden_dim=5)
    with torch.no_grad():  # away from the initial near-zero weights
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    x = torch.tensor(
        [[2.0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 1], [0, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0]]
    )
    torch.manual_seed(3)
    words, docs = model.ordered_words(x)
    torch.manual_seed(3)
    ll = model.log_likelihood(x)
    for d in range(2):
        order = words[docs == d].tolist()
        assert sorted(order) == sorted(w for w in range(12) for _ in range(int(x[d, w])))
        assert ll[d].item() == pytest.approx(hand_log_likelihood(model, order), abs=1e-4)


def test_each_order_is_a_random_permutation_of_the_documents_words():
    model = DocNADE(vocab_size=6, hidden_dim=3)
    x = torch.tensor([[3.0, 3, 0, 0, 0, 0]])
    orders = {tuple(model.ordered_words(x)[0].tolist()) for _ in range(40)}
    assert len(orders) > 5  # 20 distinct orders of aaabbb exist


def test_a_pyro_model_whose_only_site_is_the_observed_words():
    torch.manual_seed(0)
    model = DocNADE(vocab_size=10, hidden_dim=4)
    x = torch.poisson(torch.full((3, 10), 1.0))
    torch.manual_seed(1)
    tr = poutine.trace(model).get_trace(x)
    torch.manual_seed(1)
    expected = model.log_likelihood(x)
    sites = [n for n, s in tr.nodes.items() if s["type"] == "sample" and not n.endswith("plate")]
    assert [n for n in sites if n != "documents"] == ["x"] and tr.nodes["x"]["is_observed"]
    torch.testing.assert_close(tr.nodes["x"]["fn"].log_prob(x), expected)
    generated = pyro.infer.Predictive(model, num_samples=2)(None, lengths=[7, 0, 3])["x"]
    assert generated.shape == (2, 3, 10) and generated.sum(-1).tolist() == [[7, 0, 3]] * 2


def test_exact_evaluation_and_training_beat_the_unigram_model(tiny_corpus):
    from ppl_vae.runs import preset
    from ppl_vae.training import train

    torch.manual_seed(0)
    model, guide = DocNADE(len(tiny_corpus.vocab), hidden_dim=8), NoLatentGuide()
    model.init_from_corpus(tiny_corpus.train)
    before = evaluate(model, guide, tiny_corpus.test, num_samples=5, seed=0)
    assert before.exact and before.num_samples == 1
    config = preset("docnade", epochs=15, lr=1e-2, ema_decay=0.0, latent_dim=8)
    train(model, guide, tiny_corpus.train, None, config, progress=False)
    after = evaluate(model, guide, tiny_corpus.test, num_samples=5, seed=0)
    # the unigram start is the corpus's word frequencies; a model of word co-occurrence in
    # documents drawn from a 3-topic NVDM must do better by several percent
    assert after.ppl_doc_elbo < 0.95 * before.ppl_doc_elbo
    assert after.ppl_doc_elbo == after.ppl_doc_iw
    assert math.isfinite(after.ppl_corpus_elbo)
