import logging

import numpy as np
import pytest

from ppl_vae.data.bow import BowCorpus
from ppl_vae.evaluation import perplexity_per_document

VOCAB = ["a", "b", "c"]


@pytest.mark.parametrize(
    "rows, kept, skipped",
    [
        ([[1, 0, 2], [0, 0, 0], [3, 1, 0]], [[1, 0, 2], [3, 1, 0]], [2]),
        ([[1, 0, 2], [3, 1, 0], [0, 0, 0]], [[1, 0, 2], [3, 1, 0]], [3]),
        ([[0, 0, 0], [2, 0, 0], [0, 0, 0]], [[2, 0, 0]], [1, 3]),
    ],
    ids=["middle", "last", "first-and-last"],
)
def test_an_empty_document_in_memory_is_skipped_and_counted(rows, kept, skipped, caplog):
    with caplog.at_level(logging.WARNING):
        corpus = BowCorpus.from_dense(np.array(rows), VOCAB)
    assert corpus.dense().numpy().tolist() == kept
    assert corpus.lengths.tolist() == [sum(r) for r in kept]
    assert corpus.report.empty_lines == skipped and corpus.report.skipped == len(skipped)
    assert f"skipped {len(skipped)} empty document(s)" in caplog.text


def test_lengths_with_no_empty_document():
    corpus = BowCorpus.from_dense(np.array([[1, 0, 2], [3, 1, 0]]), VOCAB)
    assert corpus.lengths.tolist() == [3.0, 4.0] and corpus.report is None


def test_per_document_perplexity_leaves_out_empty_documents(caplog):
    log_p, tokens = np.array([-30.0, -50.0, 0.0]), np.array([10.0, 20.0, 0.0])
    with caplog.at_level(logging.WARNING):
        ppl = perplexity_per_document(log_p, tokens)
    assert ppl == pytest.approx(np.exp((3.0 + 2.5) / 2)) and "1 empty document" in caplog.text
