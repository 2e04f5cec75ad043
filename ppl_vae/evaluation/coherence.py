r"""Topic coherence (NPMI) and topic diversity, the figures topic-model papers report beside
perplexity.

* **NPMI** (Bouma, 2009; used for topics by Lau, Newman and Baldwin, 2014): for two words,

  .. math::
      \mathrm{NPMI}(w_i, w_j) = \frac{\log \frac{P(w_i, w_j) + \epsilon}{P(w_i) P(w_j)}}
                                     {-\log (P(w_i, w_j) + \epsilon)}

  with probabilities of **document co-occurrence** in a reference corpus (the share of its
  documents that contain the words), as Miao et al. (2017) and Srivastava and Sutton (2017)
  compute it on 20 Newsgroups; ``epsilon = 1e-12`` as in gensim. A topic's NPMI is the mean
  over the pairs of its top-N words; a pair that never co-occurs scores about -1. The figure
  depends on the reference corpus, the window (here whole documents) and N: :class:`Coherence`
  carries them, and every printed figure states them.
* **Topic diversity** (Dieng, Ruiz and Blei, 2020): the share of unique words among the top 25
  words of all topics; 1 means no two topics share a top word.

The computation is exact: a (documents x distinct top words) incidence matrix and its Gram
matrix, so the reference's whole training split costs well under a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: added to the joint probability, as gensim's ``direct_confirmation_measure`` does
EPSILON = 1e-12

#: the number of top words of each topic that topic diversity counts (Dieng et al., 2020)
DIVERSITY_TOP = 25


def document_incidence(indptr: np.ndarray, indices: np.ndarray, words: np.ndarray) -> np.ndarray:
    """``(D, len(words))`` booleans: whether document d (rows of a CSR matrix ``indptr``,
    ``indices``) contains each of ``words`` (word ids)."""
    column = np.full(int(max(indices.max(initial=0), words.max(initial=0))) + 1, -1, np.int64)
    column[words] = np.arange(len(words))
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    hit = column[indices] >= 0
    out = np.zeros((len(indptr) - 1, len(words)), dtype=bool)
    out[rows[hit], column[indices[hit]]] = True
    return out


def npmi_matrix(incidence: np.ndarray) -> np.ndarray:
    """NPMI of every pair of the incidence matrix's columns, by document co-occurrence (the
    diagonal is meaningless and left as computed)."""
    b = incidence.astype(np.float64)
    docs = b.shape[0]
    joint = (b.T @ b) / docs
    single = np.diag(joint).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log((joint + EPSILON) / np.outer(single, single))
        return pmi / -np.log(joint + EPSILON)


def topic_npmi(topics: list[list[int]], indptr: np.ndarray, indices: np.ndarray) -> list[float]:
    """The NPMI of each topic (a list of word ids, its top N): the mean over its pairs of words,
    with document co-occurrence in the reference corpus ``indptr``, ``indices`` (CSR)."""
    words = np.unique(np.concatenate([np.asarray(t, dtype=np.int64) for t in topics]))
    where = {w: i for i, w in enumerate(words.tolist())}
    scores = npmi_matrix(document_incidence(indptr, indices, words))
    out = []
    for topic in topics:
        cols = [where[w] for w in topic]
        pairs = [(i, j) for a, i in enumerate(cols) for j in cols[a + 1 :]]
        out.append(float(np.mean([scores[i, j] for i, j in pairs])) if pairs else float("nan"))
    return out


def topic_diversity(topics: list[list[int]]) -> float:
    """The share of unique words among all topics' top words (pass each topic's top 25)."""
    every = [w for t in topics for w in t]
    return len(set(every)) / max(len(every), 1)


@dataclass
class Coherence:
    """NPMI per topic and its mean, topic diversity, and the settings behind them."""

    npmi: list[float]
    mean_npmi: float
    diversity: float
    top: int  # words per topic scored by NPMI
    reference: str  # the corpus the probabilities come from
    documents: int  # its documents
    window: str = "document"  # co-occurrence within whole documents
    diversity_top: int = DIVERSITY_TOP
    labels: list[str] = field(default_factory=list)  # the topics' names, in order

    @property
    def settings(self) -> str:
        return (
            f"NPMI of the top {self.top} words, {self.window} co-occurrence in {self.reference} "
            f"({self.documents} documents); diversity over the top {self.diversity_top}"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def coherence(
    ranked: list[list[int]],
    indptr: np.ndarray,
    indices: np.ndarray,
    top: int = 10,
    reference: str = "reference corpus",
    labels: list[str] | None = None,
) -> Coherence:
    """NPMI and diversity of topics given as word ids, best first (at least ``top`` of each,
    and 25 for diversity where there are that many), against a reference corpus in CSR form."""
    scores = topic_npmi([t[:top] for t in ranked], indptr, indices)
    return Coherence(
        npmi=scores,
        mean_npmi=float(np.nanmean(scores)) if scores else float("nan"),
        diversity=topic_diversity([t[:DIVERSITY_TOP] for t in ranked]),
        top=top,
        reference=reference,
        documents=len(indptr) - 1,
        labels=list(labels or []),
    )
