"""The embedded default corpus: documents drawn from a known NVDM-style topic model.

The generating model is the NVDM of Miao et al. (2016) with a small true latent dimension:
``z ~ N(0, I_K)`` and ``x | z ~ BagOfWords(softmax(b + s * R z), N)``. ``R`` is a block matrix:
latent dimension ``k`` raises the probability of its own block of "topic" words
(named ``topic{k}_{j}``), over a Zipfian background of ``common{j}`` words. Because the truth is
known, a trained model can be checked for *recovery*: its number of active units against ``K``,
its decoder subspace against ``span(R)``, and its perplexity against the oracle ``p(x | z_true)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ppl_vae.data.bow import BowCorpus


@dataclass
class SyntheticSpec:
    """The generator's settings; the same spec always gives the same corpus."""

    latent_dim: int = 8
    words_per_topic: int = 30
    common_words: int = 260
    loading: float = 1.6
    mean_length: float = 80.0
    min_length: int = 5
    train_docs: int = 3000
    valid_docs: int = 300
    test_docs: int = 1000
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SyntheticCorpus:
    """Train/valid/test splits plus the generating parameters and each document's true ``z``."""

    spec: SyntheticSpec
    train: BowCorpus
    valid: BowCorpus
    test: BowCorpus
    loadings: np.ndarray  # (V, K): s * R
    bias: np.ndarray  # (V,)
    z: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def vocab(self) -> list[str]:
        return self.train.vocab

    def oracle_log_likelihood(self, split: str) -> np.ndarray:
        """``log p(x_d | z_d)`` under the true model with each document's true ``z`` (float64)."""
        corpus = getattr(self, split)
        logits = self.z[split] @ self.loadings.T + self.bias
        logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        return (corpus.dense().double().numpy() * logp).sum(1)

    def subspace_recovery(self, decoder_weight: torch.Tensor | np.ndarray) -> float:
        """Share of the true loading subspace captured by a learned ``(V, K')`` decoder matrix.

        Softmax ignores a constant added to every logit, so both matrices are centred over the
        vocabulary first. Returns ``||P R||_F^2 / ||R||_F^2`` in [0, 1], where ``P`` projects onto
        the learned column space; 1 means the true subspace is recovered exactly.
        """
        W = np.asarray(decoder_weight, dtype=np.float64)
        R = self.loadings - self.loadings.mean(0, keepdims=True)
        W = W - W.mean(0, keepdims=True)
        Q, _ = np.linalg.qr(W)
        proj = Q @ (Q.T @ R)
        return float((proj**2).sum() / (R**2).sum())


def make_synthetic_corpus(spec: SyntheticSpec | None = None) -> SyntheticCorpus:
    """Draw a corpus from the known model described in the module docstring."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    K, W, C = spec.latent_dim, spec.words_per_topic, spec.common_words
    V = K * W + C
    vocab = [f"topic{k}_{j}" for k in range(K) for j in range(W)] + [f"common{j}" for j in range(C)]

    loadings = np.zeros((V, K))
    for k in range(K):
        # within a block, loadings decay so each topic has a few signature words
        loadings[k * W : (k + 1) * W, k] = spec.loading * np.linspace(1.0, 0.5, W)
    bias = np.empty(V)
    bias[: K * W] = rng.normal(-1.0, 0.3, K * W)
    bias[K * W :] = -np.log(np.arange(1, C + 1)) * 0.8 + rng.normal(0.0, 0.1, C)

    def draw(n: int) -> tuple[BowCorpus, np.ndarray]:
        z = rng.standard_normal((n, K))
        logits = z @ loadings.T + bias
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        lengths = np.maximum(spec.min_length, rng.poisson(spec.mean_length, n))
        counts = np.stack([rng.multinomial(N, pd) for N, pd in zip(lengths, p)])
        return BowCorpus.from_dense(counts, vocab), z

    train, z_train = draw(spec.train_docs)
    valid, z_valid = draw(spec.valid_docs)
    test, z_test = draw(spec.test_docs)
    return SyntheticCorpus(
        spec,
        train,
        valid,
        test,
        loadings,
        bias,
        {"train": z_train, "valid": z_valid, "test": z_test},
    )
