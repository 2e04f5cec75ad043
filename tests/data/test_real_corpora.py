"""The real corpora under $PPL_VAE_DATA (default ../shared/data); skipped where absent."""

import pytest

from ppl_vae.data import data_root, load_documents

NEWS = data_root() / "20news"
needs_20news = pytest.mark.skipif(not (NEWS / "train.feat").exists(), reason=f"no corpus at {NEWS}")


@needs_20news
def test_20news_matches_the_published_counts():
    s = load_documents(NEWS, valid_fraction=0)
    assert (len(s.train), len(s.test), len(s.vocab)) == (11268, 7505, 2000)
    assert (s.train.num_tokens, s.test.num_tokens) == (1128881, 720898)
    assert s.train.report.skipped == 0 and s.vocab[:3] == ["who", "out", "which"]


@needs_20news
def test_20news_validation_comes_from_train():
    s = load_documents(NEWS, valid_fraction=0.05, seed=0)
    assert len(s.train) + len(s.valid) == 11268 and len(s.test) == 7505
