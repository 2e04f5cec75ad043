r"""Exact identities of the evidence lower bound for a discrete latent variable.

For one document ``x`` and a latent ``z`` with finitely many values ``k`` (a mixture's class),
let ``log p(x, z=k)`` be the *log joint*. Then, for any distribution ``q(z)`` on the classes,

.. math::
    \log p(x) = \operatorname{ELBO}(q) + \operatorname{KL}(q \,\|\, p(z \mid x)), \qquad
    \operatorname{ELBO}(q) = E_q[\log p(x, z)] - E_q[\log q(z)],

so the bound is tight exactly when ``q`` is the posterior ``p(z | x)`` and the gap is the KL
divergence otherwise (Neal and Hinton, 1998, "A view of the EM algorithm that justifies
incremental, sparse, and other variants"; Jordan et al., 1999, "An introduction to variational
methods for graphical models"). The E-step of EM (Dempster et al., 1977) is the choice
``q = p(z | x)`` that closes the gap.

Every function takes ``(..., K)`` tensors, one row per document, and reduces the last dimension.
Classes with ``q_k = 0`` contribute nothing to the expectations, even where ``log p(x, z=k)`` is
``-inf`` (the convention ``0 log 0 = 0``). Use float64 where identities are to hold to 1e-8.
"""

from __future__ import annotations

import torch


def log_evidence(log_joint: torch.Tensor) -> torch.Tensor:
    """``log p(x) = logsumexp_k log p(x, z=k)``, per row."""
    return torch.logsumexp(log_joint, -1)


def log_posterior(log_joint: torch.Tensor) -> torch.Tensor:
    """``log p(z=k | x)``: the exact responsibilities, in log space, per row."""
    return log_joint - log_evidence(log_joint).unsqueeze(-1)


def _expect(q: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``sum_k q_k f_k`` with ``0 * f_k = 0`` even where ``f_k`` is infinite."""
    return torch.where(q > 0, q * f, torch.zeros_like(f)).sum(-1)


def elbo(log_q: torch.Tensor, log_joint: torch.Tensor) -> torch.Tensor:
    """``E_q[log p(x, z)] - E_q[log q(z)]`` for a categorical ``q`` given by ``log_q``, per row."""
    q = log_q.exp()
    return _expect(q, log_joint) - _expect(q, log_q)


def kl_to_posterior(log_q: torch.Tensor, log_joint: torch.Tensor) -> torch.Tensor:
    """``KL(q || p(z | x)) = E_q[log q(z) - log p(z | x)]``, per row; ``>= 0``."""
    q = log_q.exp()
    return _expect(q, log_q) - _expect(q, log_posterior(log_joint))
