import json
import math
from dataclasses import replace

import numpy as np
import pyro
import pytest
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.evaluation import guide_mutual_information, mutual_information
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.runs.compare import amortization_gap, compare_guides


def _trained_pair(corpus, steps=150):
    model = NVDM(corpus.vocab_size, 3)
    guide = DiagonalGaussianGuide(corpus.vocab_size, 3, hidden_sizes=(32,))
    svi = pyro.infer.SVI(
        model, guide, pyro.optim.Adam({"lr": 3e-2}), pyro.infer.TraceMeanField_ELBO()
    )
    x = corpus.make_batch(range(len(corpus)))[0]
    for _ in range(steps):
        svi.step(x)
    return model.eval(), guide.eval()


def test_guide_based_mutual_information_matches_the_encoder_estimate(tiny_corpus):
    _, guide = _trained_pair(tiny_corpus.train)
    batches = list(tiny_corpus.test.eval_batches(60))
    # both are Monte Carlo estimates of the same quantity: compare their means over repeats
    from_encoder = np.mean([mutual_information(guide.encode, batches) for _ in range(40)])
    from_trace = np.mean([guide_mutual_information(guide, batches) for _ in range(40)])
    assert from_encoder > 0.3  # the trained encoder does carry information
    assert from_trace == pytest.approx(from_encoder, abs=0.06)
    assert from_trace <= math.log(60) + 0.1


def test_mutual_information_is_zero_when_q_ignores_x(tiny_corpus):
    class Blind(DiagonalGaussianGuide):
        def encode(self, x):
            return torch.zeros(x.shape[0], 3), torch.ones(x.shape[0], 3)

        def forward(self, x, annealing_factor=1.0):
            with pyro.plate("documents", x.shape[0]):
                return pyro.sample("z", pyro.distributions.Normal(*self.encode(x)).to_event(1))

    mi = guide_mutual_information(Blind(60, 3), tiny_corpus.test.eval_batches(60))
    assert mi == pytest.approx(0.0, abs=1e-6)


def test_amortization_gap_of_a_diagonal_guide_is_nonnegative(tiny_corpus):
    model, guide = _trained_pair(tiny_corpus.train, steps=30)  # an undertrained encoder
    args = (tiny_corpus.test.make_batch(range(20))[0],)
    amortized, best = amortization_gap(model, guide, args, steps=100)
    assert amortized.shape == best.shape == (20,)
    # the per-document optimum starts at the guide's own q: it cannot end lower beyond noise
    assert (best - amortized).mean() > 0.5
    assert (best - amortized).min() > -1.0


def test_compare_writes_a_table_and_curves(tiny_corpus, tmp_path):
    base = TrainConfig(
        latent_dim=3,
        guide_kwargs={"hidden_sizes": [16]},
        epochs=2,
        batch_size=60,
        lr=1e-2,
        ema_decay=0.0,
    )
    rows = compare_guides(
        base,
        ["diagonal", "diagonal-1layer"],
        tiny_corpus,
        tmp_path,
        eval_samples=8,
        analysis_items=10,
        gap_steps=5,
        grad_estimates=3,
        psis_samples=12,
    )
    assert [r.guide for r in rows] == ["diagonal", "diagonal-1layer"]
    table = json.loads((tmp_path / "comparison.json").read_text())
    assert {"ppl_doc_elbo", "ppl_doc_iw", "kl", "active_units", "mutual_information"} <= set(
        table[0]
    )
    assert {"amortization_gap", "khat_share_above_07", "grad_variance", "seconds_per_epoch"} <= set(
        table[0]
    )
    for row in table:
        assert row["ppl_doc_iw"] <= row["ppl_doc_elbo"] * 1.001
        assert row["epochs"] == 2 and row["seconds_per_epoch"] > 0
    md = (tmp_path / "comparison.md").read_text()
    assert md.count("\n") == 4 and "| diagonal-1layer |" in md
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert (tmp_path / "diagonal" / "best.pt").exists()


def test_compare_with_reuse_continues_instead_of_retraining(tiny_corpus, tmp_path):
    base = TrainConfig(latent_dim=3, guide_kwargs={"hidden_sizes": [16]}, epochs=1, batch_size=60)
    small = dict(eval_samples=4, analysis_items=8, gap_steps=2, grad_estimates=2, psis_samples=8)
    (first,) = compare_guides(base, ["diagonal"], tiny_corpus, tmp_path, **small)
    checkpoint = tmp_path / "diagonal" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    (again,) = compare_guides(base, ["diagonal"], tiny_corpus, tmp_path, reuse=True, **small)
    assert again == first and checkpoint.stat().st_mtime_ns == stamp  # nothing retrained
    longer = replace(base, epochs=2)  # a larger budget resumes the same run
    (extended,) = compare_guides(longer, ["diagonal"], tiny_corpus, tmp_path, reuse=True, **small)
    assert extended.epochs == 2
    other = replace(base, lr=0.5)  # another configuration is trained afresh
    (fresh,) = compare_guides(other, ["diagonal"], tiny_corpus, tmp_path, reuse=True, **small)
    assert fresh.epochs == 1


def test_a_guide_that_diverges_is_measured_at_its_best_checkpoint(tiny_corpus, tmp_path):
    base = TrainConfig(latent_dim=3, guide_kwargs={"hidden_sizes": [16]}, epochs=3, batch_size=60)
    small = dict(eval_samples=4, analysis_items=8, gap_steps=2, grad_estimates=2, psis_samples=8)
    # an absurd learning rate for the score-function guide only: it diverges, the rest do not
    overrides = {"score-function": {"objective": "nvil", "lr": 1e6}}
    rows = compare_guides(
        base, ["diagonal", "score-function"], tiny_corpus, tmp_path, overrides, **small
    )
    assert rows[0].status == "completed"
    assert rows[1].status.startswith("diverged at epoch")
    assert math.isfinite(rows[1].ppl_doc_elbo)  # its last good weights still evaluate
    assert "diverged" in (tmp_path / "comparison.md").read_text()


def test_compare_sentence_guides_on_the_embedded_sentences(tmp_path):
    from ppl_vae.data.sentences import load_sentence_data

    data = load_sentence_data(None)
    sizes = {"embedding_dim": 8, "hidden_dim": 8}
    base = TrainConfig(
        model="sentence-vae",
        guide="lstm",
        latent_dim=2,
        model_kwargs=dict(sizes),
        guide_kwargs=dict(sizes),
        epochs=1,
        batch_size=64,
    )
    small = dict(eval_samples=3, analysis_items=6, gap_steps=3, grad_estimates=2, psis_samples=8)
    rows = compare_guides(base, ["lstm", "bilstm", "mean-pool"], data, tmp_path, **small)
    assert [r.guide for r in rows] == ["lstm", "bilstm", "mean-pool"]
    for row in rows:
        assert row.status == "completed" and math.isfinite(row.amortization_gap)
        assert row.ppl_doc_iw <= row.ppl_doc_elbo * 1.001
