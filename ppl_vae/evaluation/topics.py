"""Topics of a document model: the words each latent dimension raises most.

In NVDM, ``log p(w | z) = (R z + b)_w - log Z(z)``, so moving along latent dimension k changes
the log-probability of word w in proportion to ``R[w, k]``. The top words of column k are the
dimension's "topic" (Miao et al., 2016, Table 5's Space / Religion / Encryption rows).
"""

from __future__ import annotations

import torch


def top_words(
    weights: torch.Tensor, vocab: list[str], k: int = 10, dims: list[int] | None = None
) -> list[list[str]]:
    """For each column of ``weights`` (``(V, K)``), the ``k`` words with the largest weight."""
    if weights.shape[0] != len(vocab):
        raise ValueError(f"weights have {weights.shape[0]} rows but the vocabulary {len(vocab)}")
    dims = list(range(weights.shape[1])) if dims is None else dims
    idx = weights[:, dims].topk(min(k, len(vocab)), dim=0).indices.T
    return [[vocab[i] for i in row] for row in idx.tolist()]


def dimensions_by_activity(latent_means: torch.Tensor) -> list[int]:
    """Latent dimensions ordered by the variance of their posterior means, most active first."""
    return torch.as_tensor(latent_means).var(0).argsort(descending=True).tolist()
