r"""The Replicated Softmax: a restricted Boltzmann machine of documents.

Salakhutdinov and Hinton (2009), "Replicated Softmax: an Undirected Topic Model", NIPS. The
NVDM paper's 20 Newsgroups table (Miao et al., 2016) lists RSM-50 at perplexity 953.

A document of N words is N softmax visible units with shared weights, and ``H`` binary hidden
units ``z``. With ``x`` the ``(V,)`` word counts, the energy and the joint are

.. math::
    E(x, z) = -x^\top W z - x^\top b - N\, a^\top z, \qquad
    P(x, z) = \exp(-E(x, z)) / Z_N,

where the hidden biases ``a`` are scaled by the document length N, as in the paper, so that
``Z_N`` depends on N. Summing out ``z`` gives the free energy

.. math::
    F(x) = -x^\top b - \sum_j \log\big(1 + \exp(N a_j + x^\top W_{:j})\big), \qquad
    \log P(x) = -F(x) - \log Z_N,

the probability of the document's word *sequence*, ``sum_v x_v log p_v`` in a directed model's
terms (no multinomial coefficient), as for every document model of the library. The two
conditionals are the lecture's networks:

* the "inference network" ``P(z | x) = prod_j Bernoulli(sigmoid(N a_j + x^T W_{:j}))``;
* the "generative network" ``P(x | z)``: each of the N words independently from
  ``softmax(b + W z)``.

``Z_N`` sums over ``2^H`` hidden states and ``V^N`` word sequences; given ``z`` the words
factorize, so

.. math::
    Z_N = \sum_z \exp\Big(N \big(a^\top z + \log \textstyle\sum_v \exp(b_v + W_{v:} z)\big)\Big),

which :meth:`ReplicatedSoftmax.exact_log_partition` enumerates for up to
:data:`MAX_EXACT_HIDDEN` hidden units. Beyond that it is estimated by annealed importance
sampling (:mod:`ppl_vae.infer.ais`). Training is by contrastive divergence
(:class:`~ppl_vae.infer.contrastive_divergence.ContrastiveDivergence`).

As a Pyro model, ``forward(x)`` writes the joint as a uniform reference ``z ~ Bernoulli(1/2)``
and the factor ``"x"`` of ``2^H P(x, z)``; it needs ``log Z_N`` for the lengths it scores, set by
:meth:`set_log_partition` (evaluation does so). With the exact conditional
(:class:`~ppl_vae.guides.RSMConditionalGuide`) as guide, the ELBO is then ``log P(x)`` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from ppl_vae.distributions import document_lengths, unigram_logits
from ppl_vae.ops.params import register

#: the most hidden units :meth:`ReplicatedSoftmax.exact_log_partition` enumerates (2^20 states)
MAX_EXACT_HIDDEN = 20
#: hidden states scored at once by the enumeration (memory: this times V floats)
ENUMERATION_CHUNK = 4096


class ReplicatedSoftmax(nn.Module):
    """The Replicated Softmax RBM with ``hidden_dim`` binary hidden units.

    :param vocab_size: V.
    :param hidden_dim: H (the table's RSM-50 has 50).
    :param persistent_chains: fantasy particles kept between training steps for persistent CD
        (Tieleman, 2008); 0 (the default) restarts the negative chains at the data (plain CD).
        The chains' hidden states are a buffer, so checkpoints keep them.
    :param gibbs_steps: block-Gibbs sweeps when generating documents (``forward(None, ...)``).
    """

    name = "rsm"
    data = "documents"
    default_guide = "rsm-conditional"
    #: ``Z_N`` has no closed form: evaluation computes it (:mod:`ppl_vae.evaluation.partition`)
    intractable_partition = True
    #: ``ppl-vae train rsm --hidden N`` sets its hidden units (its latent dimension)
    hidden_units_flag = True

    @classmethod
    def build(cls, vocab_size: int, latent_dim: int = 50, **kwargs) -> ReplicatedSoftmax:
        """The model for a config: ``latent_dim`` is the number of hidden units."""
        return cls(vocab_size, hidden_dim=latent_dim, **kwargs)

    def __init__(
        self,
        vocab_size: int,
        hidden_dim: int = 50,
        persistent_chains: int = 0,
        gibbs_steps: int = 1000,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_dim = hidden_dim
        self.gibbs_steps = gibbs_steps
        self.weight = nn.Parameter(0.01 * torch.randn(vocab_size, hidden_dim))  # W
        self.visible_bias = nn.Parameter(torch.zeros(vocab_size))  # b
        self.hidden_bias = nn.Parameter(torch.zeros(hidden_dim))  # a
        self.register_buffer("chains", torch.zeros(persistent_chains, hidden_dim))
        #: log Z_N by document length N, for the weights it was computed with
        self.log_partition: dict[int, float] = {}

    @property
    def persistent_chains(self) -> int:
        return self.chains.shape[0]

    def init_from_corpus(self, corpus) -> None:
        """Start ``b`` at the log unigram frequencies of the training words of ``corpus``."""
        with torch.no_grad():
            self.visible_bias.copy_(unigram_logits(corpus.word_totals()))

    # -- the energy and the conditionals ----------------------------------------------------

    def hidden_input(self, x: torch.Tensor) -> torch.Tensor:
        """``N a + x^T W``, the hidden units' total input, ``(B, H)``."""
        return x.sum(-1, keepdim=True) * self.hidden_bias + x @ self.weight

    def hidden_probs(self, x: torch.Tensor) -> torch.Tensor:
        """``P(z_j = 1 | x)``, ``(B, H)``: the inference network."""
        return torch.sigmoid(self.hidden_input(x))

    def visible_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``b + W z``, the logits of each word's softmax given ``z``, ``(B, V)``: the
        generative network."""
        return self.visible_bias + z @ self.weight.T

    def sample_visible(self, z: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Word counts ``x ~ P(x | z)``: ``lengths[i]`` words drawn independently from
        ``softmax(b + W z_i)``, ``(B, V)``."""
        probs = torch.softmax(self.visible_logits(z), -1)
        n = lengths.round().long()
        counts = torch.zeros_like(probs)
        width = int(n.max()) if len(n) else 0
        if width == 0:
            return counts
        words = torch.multinomial(probs, width, replacement=True)  # (B, max N)
        keep = torch.arange(width, device=n.device) < n[:, None]
        return counts.scatter_add_(1, words, keep.to(counts.dtype))

    def energy(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``E(x, z) = -x^T W z - x^T b - N a^T z``, ``(B,)``."""
        n = x.sum(-1)
        return -((x @ self.weight) * z).sum(-1) - x @ self.visible_bias - n * (z @ self.hidden_bias)

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x) = -log sum_z exp(-E(x, z)) = -x^T b - sum_j softplus(N a_j + x^T W_j)``,
        ``(B,)``."""
        return -(x @ self.visible_bias) - F.softplus(self.hidden_input(x)).sum(-1)

    # -- the partition function -------------------------------------------------------------

    @torch.no_grad()
    def exact_log_partition(self, lengths: Sequence[int] | torch.Tensor) -> dict[int, float]:
        """``log Z_N`` for each distinct length N, by enumerating the ``2^H`` hidden states
        (float64): ``log Z_N = logsumexp_z N g(z)`` with ``g(z) = a^T z + logsumexp_v(b_v +
        W_v z)``. Refused above :data:`MAX_EXACT_HIDDEN` hidden units."""
        if self.hidden_dim > MAX_EXACT_HIDDEN:
            raise ValueError(
                f"exact log Z enumerates 2^H hidden states; H = {self.hidden_dim} is more than "
                f"{MAX_EXACT_HIDDEN}: estimate it by AIS (ppl_vae.infer.ais)"
            )
        ns = sorted({int(n) for n in torch.as_tensor(lengths).round().long().tolist()})
        w, b, a = (t.detach().double() for t in (self.weight, self.visible_bias, self.hidden_bias))
        bits = 2 ** torch.arange(self.hidden_dim)
        g = []
        for start in range(0, 2**self.hidden_dim, ENUMERATION_CHUNK):
            index = torch.arange(start, min(start + ENUMERATION_CHUNK, 2**self.hidden_dim))
            z = ((index[:, None] & bits) > 0).double()  # (S, H)
            g.append(z @ a + torch.logsumexp(b + z @ w.T, -1))
        g = torch.cat(g)  # (2^H,)
        return {n: float(torch.logsumexp(n * g, 0)) for n in ns}

    def set_log_partition(self, table: Mapping[int, float]) -> None:
        """Use ``table`` (length N -> ``log Z_N``) when scoring documents as a Pyro model; it
        is only valid for the weights it was computed with."""
        self.log_partition = {int(n): float(v) for n, v in table.items()}

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """``log P(x) = -F(x) - log Z_N`` of each document, ``(B,)``, from the table set by
        :meth:`set_log_partition`."""
        return -self.free_energy(x) - self._log_z(x.sum(-1)).to(x.dtype)

    def _log_z(self, n: torch.Tensor) -> torch.Tensor:
        keys = n.round().long().tolist()
        missing = sorted(set(keys) - set(self.log_partition))
        if missing:
            raise ValueError(
                f"log Z_N is not known for document length(s) {missing[:5]}"
                f"{'...' if len(missing) > 5 else ''}: the Replicated Softmax's partition "
                "function is intractable; set it with set_log_partition (exact_log_partition "
                "for small H, ppl_vae.infer.ais otherwise) or evaluate with ppl_vae.evaluate"
            )
        return torch.tensor(
            [self.log_partition[k] for k in keys], dtype=torch.float64, device=n.device
        )

    # -- Pyro -------------------------------------------------------------------------------

    def forward(
        self,
        x: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        lengths: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Score the ``(B, V)`` counts ``x`` jointly with ``"z"``: ``z ~ Bernoulli(1/2)^H``
        (a uniform reference) and the factor ``"x"`` of ``log(2^H P(x, z)) = H log 2 - E(x, z)
        - log Z_N``, so that the two sites' densities multiply to ``P(x, z)``. With ``x=None``,
        generate documents of the given ``lengths`` by :attr:`gibbs_steps` sweeps of block Gibbs
        sampling into the site ``"x"``. ``annealing_factor`` is accepted, for the guides'
        signature, and unused. Returns the counts."""
        register(self, self.name)
        if x is None:
            x = self.generate(document_lengths(None, lengths).to(self.weight.device))
            with pyro.plate("documents", x.shape[0]):
                return pyro.sample("x", dist.Delta(x).to_event(1))
        n = x.sum(-1)
        with pyro.plate("documents", x.shape[0]):
            half = torch.full_like(self.hidden_bias, 0.5).expand(x.shape[0], -1)
            z = pyro.sample("z", dist.Bernoulli(half).to_event(1))
            log_z = self._log_z(n).to(x.dtype)
            pyro.factor("x", self.hidden_dim * math.log(2.0) - self.energy(x, z) - log_z)
        return x

    @torch.no_grad()
    def generate(self, lengths: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """``(B, V)`` documents of ``lengths`` words after ``steps`` (default
        :attr:`gibbs_steps`) block-Gibbs sweeps from uniformly random hidden states."""
        z = torch.bernoulli(torch.full((len(lengths), self.hidden_dim), 0.5))
        x = self.sample_visible(z, lengths)
        for _ in range(self.gibbs_steps if steps is None else steps):
            z = torch.bernoulli(self.hidden_probs(x))
            x = self.sample_visible(z, lengths)
        return x

    def topic_weights(self) -> torch.Tensor:
        """``W`` as ``(V, H)``: column j is what hidden unit j adds to each word's logit."""
        return self.weight.detach()
