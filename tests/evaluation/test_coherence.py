"""NPMI and topic diversity: a hand-computed toy, gensim's implementation, and a trained model
whose topics beat random word sets."""

import math

import numpy as np
import pytest

from ppl_vae.evaluation.coherence import (
    EPSILON,
    coherence,
    document_incidence,
    topic_diversity,
    topic_npmi,
)

# four documents over the words a=0, b=1, c=2, d=3 (CSR)
TOY_DOCS = [[0, 1], [0, 1, 2], [2], [0, 3]]


def csr(docs):
    indptr = np.cumsum([0, *map(len, docs)])
    return indptr, np.array([w for d in docs for w in d])


def by_hand(p_i, p_j, p_ij):
    return math.log((p_ij + EPSILON) / (p_i * p_j)) / -math.log(p_ij + EPSILON)


def test_npmi_on_a_four_document_toy_by_hand():
    indptr, indices = csr(TOY_DOCS)
    ab = by_hand(3 / 4, 2 / 4, 2 / 4)  # log(4/3) / log 2 = 0.415
    bc = by_hand(2 / 4, 2 / 4, 1 / 4)  # independent: 0
    ac = by_hand(3 / 4, 2 / 4, 1 / 4)  # log(2/3) / log 4 = -0.292
    cd = by_hand(2 / 4, 1 / 4, 0.0)  # never together: about -1
    assert ab == pytest.approx(math.log(4 / 3) / math.log(2)) and bc == pytest.approx(0, abs=1e-10)
    assert cd == pytest.approx(-1, abs=0.1)
    got = topic_npmi([[0, 1], [1, 2], [0, 1, 2], [2, 3]], indptr, indices)
    assert got == pytest.approx([ab, bc, (ab + bc + ac) / 3, cd], abs=1e-12)


def test_incidence_marks_only_the_asked_words():
    indptr, indices = csr(TOY_DOCS)
    inc = document_incidence(indptr, indices, np.array([2, 0]))
    assert inc.tolist() == [[False, True], [True, True], [True, False], [False, True]]


def test_diversity_is_the_share_of_unique_top_words():
    assert topic_diversity([[0, 1], [2, 3]]) == 1.0
    assert topic_diversity([[0, 1], [1, 0]]) == 0.5


def test_coherence_states_its_settings():
    indptr, indices = csr(TOY_DOCS)
    c = coherence([[0, 1, 2], [2, 3, 0]], indptr, indices, top=2, reference="toy")
    assert c.npmi == pytest.approx(topic_npmi([[0, 1], [2, 3]], indptr, indices))
    assert c.mean_npmi == pytest.approx(np.mean(c.npmi)) and c.documents == 4
    assert c.settings == (
        "NPMI of the top 2 words, document co-occurrence in toy (4 documents); diversity over "
        "the top 25"
    )


def test_npmi_equals_gensims_c_npmi_with_whole_document_windows(tiny_corpus):
    """gensim's ``CoherenceModel(coherence="c_npmi")`` counts co-occurrence in sliding windows;
    a window longer than every document makes each document one window, our setting."""
    gensim = pytest.importorskip("gensim")
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    c = tiny_corpus.train
    vocab = tiny_corpus.vocab
    texts = [[vocab[w] for w in c.indices[a:b]] for a, b in zip(c.indptr, c.indptr[1:])]
    dictionary = Dictionary(texts)
    rng = np.random.default_rng(0)
    topics = [rng.choice(len(vocab), 8, replace=False).tolist() for _ in range(6)]
    topics.append(list(range(8)))  # the first topic's words of the generating model
    longest = max(map(len, texts))
    model = CoherenceModel(topics=[[vocab[w] for w in t] for t in topics], texts=texts,
                           dictionary=dictionary, coherence="c_npmi", window_size=longest + 1,
                           processes=1)  # fmt: skip
    theirs = model.get_coherence_per_topic()
    ours = topic_npmi(topics, c.indptr, c.indices)
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert gensim.__version__
