"""Synthetic corpora drawn from a known mixture of multinomials, shared by the mixture tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from ppl_vae.data import BowCorpus


@dataclass
class SyntheticMixture:
    weights: torch.Tensor  # (K,) float64
    topics: torch.Tensor  # (K, V) float64
    train: BowCorpus
    test: BowCorpus
    train_classes: torch.Tensor  # (D,) the classes that generated the training documents


def _documents(weights, topics, n, mean_length, generator):
    z = torch.multinomial(weights, n, replacement=True, generator=generator)
    lengths = torch.poisson(torch.full((n,), mean_length), generator=generator).clamp_min(1).long()
    counts = torch.zeros(n, topics.shape[1], dtype=torch.float64)
    for d in range(n):
        words = torch.multinomial(topics[z[d]], int(lengths[d]), True, generator=generator)
        counts[d] = torch.bincount(words, minlength=topics.shape[1]).double()
    return counts, z


def make_mixture(
    K: int = 3,
    V: int = 30,
    train_docs: int = 300,
    test_docs: int = 200,
    mean_length: float = 50.0,
    topic_scale: float = 2.0,
    seed: int = 0,
) -> SyntheticMixture:
    """Documents from ``pi = (K, K-1, ..., 1) / sum`` and ``beta_k = softmax(s * eps_k)`` with
    ``eps_k ~ N(0, I_V)``: distinct, fairly sparse word distributions."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.arange(K, 0, -1, dtype=torch.float64)
    weights /= weights.sum()
    topics = torch.softmax(topic_scale * torch.randn(K, V, generator=g, dtype=torch.float64), -1)
    vocab = [f"w{v}" for v in range(V)]
    x_train, z_train = _documents(weights, topics, train_docs, mean_length, g)
    x_test, _ = _documents(weights, topics, test_docs, mean_length, g)
    return SyntheticMixture(
        weights,
        topics,
        BowCorpus.from_dense(x_train.numpy(), vocab),
        BowCorpus.from_dense(x_test.numpy(), vocab),
        z_train,
    )


def best_permutation(estimate: torch.Tensor, truth: torch.Tensor) -> list[int]:
    """The order of ``estimate``'s rows that best matches ``truth``'s (least total abs error)."""
    K = truth.shape[0]
    return list(
        min(
            itertools.permutations(range(K)),
            key=lambda p: float((estimate[list(p)] - truth).abs().sum()),
        )
    )
