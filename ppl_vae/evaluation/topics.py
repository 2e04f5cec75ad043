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


def ranked_ids(weights: torch.Tensor, n: int, pole: int = 1) -> list[list[int]]:
    """For each column of ``weights`` (``(V, K)``), the ids of the ``n`` words it raises most
    (``pole=1``) or lowers most (``pole=-1``), best first."""
    return (pole * weights).topk(min(n, weights.shape[0]), dim=0).indices.T.tolist()


def varimax(
    weights: torch.Tensor, max_iter: int = 500, tol: float = 1e-10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kaiser's (1958) varimax rotation of the columns of ``weights`` (``(V, K)``): the
    orthogonal ``Q`` that maximizes the variance of the squared loadings of ``weights @ Q``, so
    that each word loads on few directions. Returns ``(weights @ Q, Q)``.

    For a model with an isotropic Gaussian prior, ``z' = Q^T z`` is again ``N(0, I)`` and
    ``R z = (R Q) z'``, so the rotated decoder defines the same ``p(x)``: rotating changes how
    the latent space is read, not the model. The columns are centered over words first: a
    constant added to a column of ``R`` shifts every logit equally and cancels in the softmax.
    """
    w = (weights - weights.mean(0, keepdim=True)).double()
    v, k = w.shape
    q = torch.eye(k, dtype=torch.float64)
    objective = 0.0
    for _ in range(max_iter):
        lam = w @ q
        target = lam.pow(3) - lam @ torch.diag(lam.pow(2).sum(0)) / v
        u, s, vh = torch.linalg.svd(w.T @ target)
        q = u @ vh
        previous, objective = objective, float(s.sum())
        if previous and objective < previous * (1 + tol):
            break
    q = q.to(weights.dtype)
    return weights @ q, q
