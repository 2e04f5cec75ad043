"""Evaluation of the Replicated Softmax: exact and AIS log Z give the same perplexities, and the
figures say which estimator made them."""

import numpy as np
import pytest
import torch

from ppl_vae.evaluation import evaluate
from ppl_vae.guides import RSMConditionalGuide
from ppl_vae.models import ReplicatedSoftmax
from ppl_vae.ops.metrics import perplexity_per_document


@pytest.fixture
def rsm(tiny_corpus):
    torch.manual_seed(0)
    model = ReplicatedSoftmax(len(tiny_corpus.vocab), 6)
    with torch.no_grad():
        model.weight.normal_(0.0, 0.3)
    model.init_from_corpus(tiny_corpus.train)
    return model


def test_exact_and_ais_evaluations_agree_and_name_their_estimator(rsm, tiny_corpus):
    guide = RSMConditionalGuide(model=rsm)
    exact = evaluate(rsm, guide, tiny_corpus.test, partition_method="exact", seed=0)
    ais = evaluate(rsm, guide, tiny_corpus.test, partition_method="ais", ais_runs=50,
                   ais_steps=300, seed=0)  # fmt: skip
    assert exact.exact and not ais.exact
    assert ais.ppl_doc_iw == pytest.approx(exact.ppl_doc_iw, rel=2e-3)
    assert ais.ppl_corpus_iw == pytest.approx(exact.ppl_corpus_iw, rel=2e-3)
    d = ais.to_dict()
    assert d["estimator"] == "ais" and d["ppl_doc_ais"] == ais.ppl_doc_iw
    assert d["ais_runs"] == 50 and d["ais_steps"] == 300 and d["ais_temperatures"] > 300
    assert 0 <= d["log_z_standard_error_mean"] <= d["log_z_standard_error_max"]
    assert d["log_z_spread_mean"] > 0
    assert "ppl_doc_exact" in exact.to_dict() and "ppl_doc_ais" not in exact.to_dict()


def test_log_p_is_minus_free_energy_minus_log_z_and_the_kl_is_not_negative(rsm, tiny_corpus):
    ev = evaluate(rsm, None, tiny_corpus.test, partition_method="exact", seed=0)
    x = tiny_corpus.test.dense()
    n = x.sum(-1).round().long().tolist()
    table = rsm.exact_log_partition(n)
    log_p = -rsm.free_energy(x).double() - torch.tensor([table[k] for k in n], dtype=torch.float64)
    expected = perplexity_per_document(log_p.detach().numpy(), np.asarray(n, dtype=float))
    assert ev.ppl_doc_iw == pytest.approx(expected, rel=1e-9)
    assert ev.kl > -0.05  # a Monte Carlo estimate of a KL
    assert ev.active_units == 6


def test_auto_enumerates_few_hidden_units_and_refuses_unknown_methods(rsm, tiny_corpus):
    assert evaluate(rsm, None, tiny_corpus.test, seed=0).partition == {"estimator": "exact"}
    with pytest.raises(ValueError, match="auto, exact or ais"):
        evaluate(rsm, None, tiny_corpus.test, partition_method="bridge", seed=0)
