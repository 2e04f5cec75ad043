import numpy as np

from ppl_vae.data import SyntheticSpec, make_synthetic_corpus


def test_same_spec_same_corpus():
    spec = SyntheticSpec(train_docs=50, valid_docs=5, test_docs=10, seed=7)
    a, b = make_synthetic_corpus(spec), make_synthetic_corpus(spec)
    assert (a.train.dense() == b.train.dense()).all()
    assert len(a.vocab) == spec.latent_dim * spec.words_per_topic + spec.common_words


def test_oracle_beats_unigram_and_subspace_recovery_is_exact_for_the_truth():
    syn = make_synthetic_corpus(SyntheticSpec(train_docs=400, valid_docs=10, test_docs=200))
    oracle = syn.oracle_log_likelihood("test")
    counts = syn.train.dense().numpy().sum(0) + 1
    unigram = syn.test.dense().numpy() @ np.log(counts / counts.sum())
    assert oracle.sum() > unigram.sum() + 0.05 * abs(unigram.sum())
    assert abs(syn.subspace_recovery(syn.loadings) - 1.0) < 1e-9
    random = np.random.default_rng(0).normal(size=syn.loadings.shape)
    assert syn.subspace_recovery(random) < 0.3
