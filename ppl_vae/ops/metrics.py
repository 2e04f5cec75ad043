"""Perplexity and active units, from per-datapoint log-likelihoods and posterior means.

* Perplexity per document (Miao et al., 2016): ``exp(-(1/D) sum_d log p(x_d) / N_d)``, and over
  the corpus: ``exp(-sum_d log p(x_d) / sum_d N_d)``.
* Active units (Burda et al., 2016): dimensions u with ``Cov_x(E_q[z_u | x]) > 0.01``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

ACTIVE_UNIT_THRESHOLD = 0.01


def perplexity_per_document(log_p: np.ndarray, tokens: np.ndarray) -> float:
    """``exp(-(1/D) sum_d log p(x_d) / N_d)``, the NVDM paper's definition, over the documents
    with ``N_d > 0`` (an empty document has no per-word figure; any are left out and counted
    in a warning)."""
    log_p, tokens = np.asarray(log_p, np.float64), np.asarray(tokens, np.float64)
    empty = tokens <= 0
    if empty.any():
        logger.warning("perplexity per document: left out %d empty document(s)", empty.sum())
        log_p, tokens = log_p[~empty], tokens[~empty]
    return float(np.exp(-np.mean(log_p / tokens)))


def perplexity_corpus(log_p: np.ndarray, tokens: np.ndarray) -> float:
    """``exp(-sum_d log p(x_d) / sum_d N_d)``."""
    return float(np.exp(-np.sum(log_p, dtype=np.float64) / np.sum(tokens, dtype=np.float64)))


def active_units(latent_means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Number of dimensions whose posterior mean varies across data: ``Cov_x(E_q[z_u]) > 0.01``."""
    if latent_means.shape[0] < 2:
        return 0
    return int((np.var(latent_means, axis=0, ddof=1) > threshold).sum())


@dataclass
class ItemEstimates:
    """Per-datapoint estimates from S guide samples (float64 numpy arrays of shape (D,))."""

    elbo: np.ndarray
    log_px: np.ndarray
    kl: np.ndarray
    log_likelihood: np.ndarray
    latent_mean: np.ndarray  # (D, K)
    tokens: np.ndarray
    num_samples: int  # guide samples per item; 0 when log p(x) is exact
    exact: bool = False  # log p(x) is exact (elbo = log_px)
    #: when ``q`` was refined per item at evaluation: the encoder's own ELBO, from the same draws
    elbo_encoder: np.ndarray | None = None
    refine_steps: int = 0

    #: the per-batch pieces' keys, in the fields' order
    PIECES = ("elbo", "log_px", "kl", "ll", "mean", "tokens")

    @classmethod
    def concatenate(
        cls, pieces: list[dict], num_samples: int, refine_steps: int = 0
    ) -> ItemEstimates:
        """The estimates of consecutive batches, each a dict of :attr:`PIECES` arrays (and
        ``elbo_encoder`` when ``refine_steps``)."""
        keys = (*cls.PIECES, "elbo_encoder") if refine_steps else cls.PIECES
        cat = {k: np.concatenate([np.asarray(p[k], dtype=np.float64) for p in pieces])
               for k in keys}  # fmt: skip
        est = cls(*(cat[k] for k in cls.PIECES), num_samples)
        if refine_steps:
            est.elbo_encoder, est.refine_steps = cat["elbo_encoder"], refine_steps
        return est
