r"""DocNADE: an autoregressive model of a document's words, with an exact likelihood.

Larochelle and Lauly (2012), "A Neural Autoregressive Topic Model", NIPS; Lauly, Zheng,
Allauzen and Larochelle (2017), "Document Neural Autoregressive Distribution Estimation",
JMLR. The NVDM paper's 20 Newsgroups table (Miao et al., 2016) lists docNADE-50 at 896.

A document's N words, in an order :math:`o`, are predicted one at a time from the sum of the
embeddings of the words before them:

.. math::
    h_i = \sigma\Big(c + \sum_{k < i} W_{:, v_{o_k}}\Big), \qquad
    p(v_{o_i} \mid v_{o_{<i}}) = \mathrm{softmax}(b + V h_i)_{v_{o_i}}, \qquad
    \log p(x) = \sum_i \log p(v_{o_i} \mid v_{o_{<i}})

with ``H`` hidden units (the table's 50) and a full softmax over the vocabulary (cheap at
V = 2,000; the papers used a binary tree over the words for larger ones).

**The order.** A bag of words has no order. Training draws a new random order of each
document's words at every step (the papers' stochastic training over orders). At evaluation
the order is again random, one per document, drawn from torch's RNG, which
:func:`~ppl_vae.evaluation.evaluate` seeds per batch: a single fixed order per document, as for
the published figure. ``log p(x)`` for that order is exact, and perplexity is computed from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from ppl_vae.distributions import document_lengths, unigram_logits
from ppl_vae.ops.params import register

#: the most (tokens x vocabulary) logits computed at once (64 MB of float32)
CHUNK_ELEMENTS = 16_000_000


class DocNADE(nn.Module):
    """DocNADE as a Pyro model with the observed site ``"x"`` (the ``(B, V)`` word counts,
    scored by the exact log-likelihood of a random order of each document's words) in the plate
    ``"documents"``, and no latent variable: train it with the empty guide (``"none"``), for
    which the ELBO is ``log p(x)``. ``annealing_factor`` is accepted, for the guides'
    signature, and unused.

    :param hidden_dim: H, the hidden units (the table's docNADE-50 has 50).
    """

    name = "docnade"
    data = "documents"
    default_guide = "none"

    @classmethod
    def build(cls, vocab_size: int, latent_dim: int = 50, **kwargs) -> DocNADE:
        """The model for a config: ``latent_dim`` is the number of hidden units."""
        return cls(vocab_size, hidden_dim=latent_dim, **kwargs)

    def __init__(self, vocab_size: int, hidden_dim: int = 50) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, hidden_dim)  # W, one column per word
        nn.init.normal_(self.embedding.weight, std=0.01)
        self.hidden_bias = nn.Parameter(torch.zeros(hidden_dim))  # c
        self.output = nn.Linear(hidden_dim, vocab_size)  # V h + b

    def init_from_corpus(self, corpus) -> None:
        """Start ``b`` at the log unigram frequencies of the training words of ``corpus``."""
        with torch.no_grad():
            self.output.bias.copy_(unigram_logits(corpus.word_totals()))

    def ordered_words(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each document's words in a random order (torch's RNG), all documents one after the
        other: ``(T,)`` word ids and ``(T,)`` document indices, documents in row order."""
        doc, word = x.round().long().nonzero(as_tuple=True)
        counts = x.round().long()[doc, word]
        doc, word = doc.repeat_interleave(counts), word.repeat_interleave(counts)
        # a random order within each document: sort by (document, random key)
        key = torch.rand(len(word), device=x.device, dtype=torch.float64)
        order = torch.argsort(doc.double() * 2 + key)
        return word[order], doc[order]

    def token_log_probs(self, words: torch.Tensor, docs: torch.Tensor) -> torch.Tensor:
        """``log p(v_i | v_{<i})`` of each of the ``(T,)`` words of :meth:`ordered_words`."""
        emb = self.embedding(words).double()  # (T, H); float64 so that the differences
        total = emb.cumsum(0)  # of long running sums below stay exact to float32
        first = torch.ones_like(docs, dtype=torch.bool)
        first[1:] = docs[1:] != docs[:-1]
        start = torch.cummax(torch.where(first, torch.arange(len(docs), device=docs.device), 0), 0)
        # the sum over the earlier words of the same document: (cumsum before i) - (before start)
        before_doc = (total - emb)[start.values]
        hidden = torch.sigmoid(self.hidden_bias + ((total - emb) - before_doc).float())
        out, step = [], max(1, CHUNK_ELEMENTS // self.vocab_size)
        for a in range(0, len(words), step):
            logits = self.output(hidden[a : a + step])  # a fused log-softmax and pick:
            out.append(-F.cross_entropy(logits, words[a : a + step], reduction="none"))
        return torch.cat(out) if out else hidden.new_zeros(0)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` of each document of the ``(B, V)`` counts, for one random order of its
        words, ``(B,)``."""
        words, docs = self.ordered_words(x)
        logp = self.token_log_probs(words, docs)
        return torch.zeros(x.shape[0], dtype=logp.dtype, device=x.device).index_add(0, docs, logp)

    def forward(
        self,
        x: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        lengths: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Score the ``(B, V)`` counts ``x``; with ``x=None``, generate documents of the given
        ``lengths`` word by word into the site ``"x"`` (e.g. under
        :class:`~pyro.infer.Predictive`). Returns the counts."""
        register(self, self.name)
        if x is None:
            x = self.generate(document_lengths(None, lengths).to(self.output.bias.device))
            with pyro.plate("documents", x.shape[0]):
                return pyro.sample("x", dist.Delta(x).to_event(1))
        with pyro.plate("documents", x.shape[0]):
            pyro.factor("x", self.log_likelihood(x))
        return x

    @torch.no_grad()
    def generate(self, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, V)`` word counts of documents of ``lengths`` words, drawn word by word."""
        batch = len(lengths)
        counts = torch.zeros(batch, self.vocab_size, device=lengths.device)
        acc = self.hidden_bias.expand(batch, -1).clone()
        for i in range(int(lengths.max().item()) if batch else 0):
            logits = self.output(torch.sigmoid(acc))
            word = torch.distributions.Categorical(logits=logits).sample()
            alive = (i < lengths).to(counts.dtype)
            counts[torch.arange(batch), word] += alive
            acc = acc + self.embedding(word) * alive[:, None]
        return counts

    def topic_weights(self) -> torch.Tensor:
        """The output weights as ``(V, H)``: column k is what hidden unit k adds to each word's
        logit (a hidden unit lies in (0, 1), so only the positive pole is a topic)."""
        return self.output.weight.detach()
