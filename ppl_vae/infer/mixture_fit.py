"""A fitted mixture of multinomials, and its exact evaluation on a sparse corpus.

Both fitting methods, EM (:mod:`ppl_vae.infer.em`) and SVI with enumeration
(:mod:`ppl_vae.infer.mixture_svi`), return a :class:`MixtureFit`, so that both are evaluated by the
same code: the exact per-document ``log p(x_d)``, obtained by summing over the K classes (the
model of Nigam et al., 2000; see :class:`~ppl_vae.models.MixtureOfMultinomials`).

Corpora are processed in chunks of documents held as sparse CSR count matrices, so the dense
``(D, V)`` count matrix of a corpus is never made.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ppl_vae.data.bow import BowCorpus
from ppl_vae.models.mixture import mixture_log_joint
from ppl_vae.ops.exact import log_evidence, log_posterior
from ppl_vae.ops.metrics import ItemEstimates, perplexity_corpus, perplexity_per_document

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000


@dataclass
class SparseChunk:
    """Consecutive documents of a corpus as sparse count matrices.

    :param counts: ``(B, V)`` sparse CSR counts.
    :param counts_t: its ``(V, B)`` transpose, also CSR (for ``X^T R`` in EM's M-step).
    :param lengths: ``(B,)`` tokens per document.
    """

    counts: torch.Tensor
    counts_t: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.lengths.shape[0]


def _csr(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, shape, dtype) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(np.ascontiguousarray(indptr, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)),
            torch.from_numpy(np.asarray(values)).to(dtype),
            size=shape,
            check_invariants=True,
        )


def sparse_chunks(
    corpus: BowCorpus, chunk_size: int = DEFAULT_CHUNK_SIZE, dtype: torch.dtype = torch.float64
) -> list[SparseChunk]:
    """The corpus as consecutive chunks of at most ``chunk_size`` documents, in order."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    V = corpus.vocab_size
    lengths = corpus.lengths
    chunks = []
    for start in range(0, len(corpus), chunk_size):
        stop = min(start + chunk_size, len(corpus))
        lo, hi = corpus.indptr[start], corpus.indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(corpus.indptr[start : stop + 1]))
        # sort each document's words and sum repeated ones, as CSR requires
        keys, where = np.unique(rows * V + corpus.indices[lo:hi], return_inverse=True)
        vals = np.bincount(where, weights=corpus.counts[lo:hi], minlength=len(keys))
        rows, cols = keys // V, keys % V
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=stop - start))])
        order = np.lexsort((rows, cols))  # by word, then document: the transpose's CSR order
        indptr_t = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=V))])
        chunks.append(
            SparseChunk(
                counts=_csr(indptr, cols, vals, (stop - start, V), dtype),
                counts_t=_csr(indptr_t, rows[order], vals[order], (V, stop - start), dtype),
                lengths=torch.from_numpy(lengths[start:stop]).to(dtype),
            )
        )
    return chunks


def _chunks(corpus: BowCorpus | list[SparseChunk], chunk_size: int) -> list[SparseChunk]:
    return corpus if isinstance(corpus, list) else sparse_chunks(corpus, chunk_size)


def chunk_log_joint(
    chunk: SparseChunk, log_weights: torch.Tensor, log_topics: torch.Tensor
) -> torch.Tensor:
    """``log p(x_d, z_d = k)`` for the documents of a chunk, ``(B, K)``; see
    :func:`~ppl_vae.models.mixture.mixture_log_joint`."""
    return mixture_log_joint(chunk.counts, log_weights, log_topics)


def dirichlet_log_density(value: torch.Tensor, concentration: float) -> torch.Tensor:
    """``log Dir(value; concentration * 1)`` over the last dimension, with ``0 log 0 = 0``."""
    n = value.shape[-1]
    a = torch.as_tensor(concentration, dtype=value.dtype)
    norm = torch.lgamma(a * n) - n * torch.lgamma(a)
    return norm + torch.xlogy(a - 1, value).sum(-1)


@dataclass
class MixtureFit:
    """Point estimates of a mixture of multinomials, with the record of how they were fitted.

    :param log_weights: ``(K,)`` float64 log class probabilities ``log pi``.
    :param log_topics: ``(K, V)`` float64 log word probabilities ``log beta``.
    :param history: the MAP objective ``sum_d log p(x_d) + log p(pi, beta)`` (nats) of the
        training corpus after each iteration (EM) or epoch (SVI), starting at the initial value.
    :param weight_concentration: ``alpha_pi`` of the prior the fit used.
    :param beta_concentration: ``alpha_beta`` of the prior the fit used.
    :param method: ``"em"`` or ``"svi"``.
    :param iterations: EM iterations or SVI epochs run.
    :param seconds: wall time of the fit, all restarts included.
    :param restart_objectives: the final training objective of every restart.
    :param restart_iterations: the EM iterations or SVI epochs of every restart.
    """

    log_weights: torch.Tensor
    log_topics: torch.Tensor
    history: list[float] = field(default_factory=list)
    weight_concentration: float = 1.0
    beta_concentration: float = 1.0
    method: str = "em"
    iterations: int = 0
    seconds: float = 0.0
    restart_objectives: list[float] = field(default_factory=list)
    restart_iterations: list[int] = field(default_factory=list)

    @property
    def num_components(self) -> int:
        return self.log_weights.shape[0]

    @property
    def vocab_size(self) -> int:
        return self.log_topics.shape[1]

    @property
    def weights(self) -> torch.Tensor:
        """``pi``, the value of the model's ``"weights"`` site."""
        return self.log_weights.exp()

    @property
    def topics(self) -> torch.Tensor:
        """``beta``, the value of the model's ``"topics"`` site."""
        return self.log_topics.exp()

    def log_prior(self) -> float:
        """``log Dir(pi; alpha_pi) + sum_k log Dir(beta_k; alpha_beta)``."""
        return float(
            dirichlet_log_density(self.weights, self.weight_concentration)
            + dirichlet_log_density(self.topics, self.beta_concentration).sum()
        )

    def log_joint(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x_d, z_d = k)`` for a dense ``(D, V)`` count matrix, ``(D, K)`` float64."""
        return mixture_log_joint(x.double(), self.log_weights, self.log_topics)

    def log_likelihood(
        self, corpus: BowCorpus | list[SparseChunk], chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> np.ndarray:
        """The exact ``log p(x_d)`` of every document, by summing over the classes; float64.

        :param corpus: the documents, or their :func:`sparse_chunks`.
        """
        out = [
            log_evidence(chunk_log_joint(c, self.log_weights, self.log_topics))
            for c in _chunks(corpus, chunk_size)
        ]
        return torch.cat(out).numpy() if out else np.zeros(0)

    def posterior(
        self, corpus: BowCorpus | list[SparseChunk], chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> torch.Tensor:
        """The exact responsibilities ``p(z_d = k | x_d)``, ``(D, K)`` float64."""
        out = [
            log_posterior(chunk_log_joint(c, self.log_weights, self.log_topics)).exp()
            for c in _chunks(corpus, chunk_size)
        ]
        return torch.cat(out) if out else torch.zeros(0, self.num_components)

    def evaluate_items(self, corpus: BowCorpus) -> ItemEstimates:
        """Exact per-document figures for :func:`ppl_vae.evaluation.evaluate` (called with no
        guide): ``log p(x_d)`` (both the "ELBO" and the "estimate"), ``log p(x_d | z)``
        averaged over the exact posterior, ``KL(p(z | x_d) || p(z))``, and the posterior
        responsibilities as the latent means (so active units count classes in use)."""
        log_p = self.log_likelihood(corpus)
        post = self.posterior(corpus).double().numpy()
        log_pi = self.log_weights.double().numpy()
        kl = (post * (np.log(np.clip(post, 1e-300, None)) - log_pi)).sum(1)
        tokens = corpus.lengths.astype(np.float64)
        return ItemEstimates(log_p, log_p, kl, log_p + kl, post, tokens, 0, exact=True)

    def objective(self, corpus: BowCorpus | list[SparseChunk]) -> float:
        """The MAP objective on ``corpus``: ``sum_d log p(x_d) + log p(pi, beta)``."""
        return float(self.log_likelihood(corpus).sum()) + self.log_prior()

    def perplexity(self, corpus: BowCorpus) -> dict[str, float]:
        """Exact per-document and corpus perplexities (Miao et al., 2016) of ``corpus``."""
        log_p, tokens = self.log_likelihood(corpus), corpus.lengths.astype(np.float64)
        return {
            "per_document": perplexity_per_document(log_p, tokens),
            "corpus": perplexity_corpus(log_p, tokens),
            "nll_per_document": float(-log_p.mean()) if len(log_p) else math.nan,
        }

    def state_dict(self) -> dict:
        """Tensors and plain data only (safe for ``torch.load(weights_only=True)``)."""
        return {
            "log_weights": self.log_weights.detach().cpu().clone(),
            "log_topics": self.log_topics.detach().cpu().clone(),
            "history": [float(h) for h in self.history],
            "weight_concentration": float(self.weight_concentration),
            "beta_concentration": float(self.beta_concentration),
            "method": str(self.method),
            "iterations": int(self.iterations),
            "seconds": float(self.seconds),
            "restart_objectives": [float(h) for h in self.restart_objectives],
            "restart_iterations": [int(i) for i in self.restart_iterations],
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> MixtureFit:
        state = dict(state)
        state["log_weights"] = torch.as_tensor(state["log_weights"], dtype=torch.float64)
        state["log_topics"] = torch.as_tensor(state["log_topics"], dtype=torch.float64)
        return cls(**state)


#: one restart: ``(log_weights, log_topics, history, final objective, iterations)``
Restart = tuple[torch.Tensor, torch.Tensor, list[float], float, int]


def best_of_restarts(
    method: str,
    num_components: int,
    restarts: int,
    run: Callable[[int], Restart],
    weight_concentration: float,
    beta_concentration: float,
) -> MixtureFit:
    """Run ``run(r)`` for ``r = 0 .. restarts - 1`` and keep the restart with the highest final
    training objective (the first of equals), as a :class:`MixtureFit` that also records every
    restart's objective and length. Used by EM and by SVI with the class enumerated."""
    start = time.perf_counter()
    results = []
    for r in range(restarts):
        results.append(run(r))
        final, iterations = results[-1][3:]
        logger.info(
            "%s restart %d/%d: objective %.6f nats after %d iterations",
            method, r + 1, restarts, final, iterations,
        )  # fmt: skip
    best = max(range(restarts), key=lambda r: results[r][3])
    log_weights, log_topics, history, final, iterations = results[best]
    seconds = time.perf_counter() - start
    logger.info(
        "%s K=%d: best objective %.6f nats of %d restart(s), %.1f s",
        method, num_components, final, restarts, seconds,
    )  # fmt: skip
    return MixtureFit(
        log_weights=log_weights,
        log_topics=log_topics,
        history=history,
        weight_concentration=weight_concentration,
        beta_concentration=beta_concentration,
        method=method.lower(),
        iterations=iterations,
        seconds=seconds,
        restart_objectives=[r[3] for r in results],
        restart_iterations=[r[4] for r in results],
    )
