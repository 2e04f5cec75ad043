"""The mutual information ``I(x; z)`` under ``q(z | x) p_data(x)`` (He et al., 2019)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import pyro
import torch
from pyro import poutine

from ppl_vae.ops.world import map_batches


def mutual_information(
    encode: Callable, batches: Iterable[tuple], seed: int | None = None
) -> float:
    """He et al. (2019)'s estimate of ``I(x; z)`` under ``q(z | x) p_data(x)``, in nats.

    ``I = E_x E_q(z|x)[log q(z|x)] - E_q(z)[log q(z)]``, with the aggregate posterior
    ``q(z) = (1/B) sum_x q(z | x)`` estimated within each batch and the batches averaged
    (weighted by size). ``encode(*args)`` must return the ``(loc, scale)`` of a diagonal
    Gaussian ``q(z | x)``. The estimate is at most ``log B``. ``seed`` and sharding over ranks
    as in :func:`~ppl_vae.ops.world.map_batches`.
    """

    def one(batch) -> tuple[float, int]:
        with torch.no_grad():
            loc, scale = encode(*batch[0])
            size, dim = loc.shape
            neg_entropy = (-0.5 * dim * math.log(2 * math.pi) - (0.5 + scale.log()).sum(-1)).mean()
            z = loc + scale * torch.randn_like(loc)
            pairs = torch.distributions.Normal(loc[None], scale[None]).log_prob(z[:, None]).sum(-1)
            log_qz = pairs.logsumexp(1) - math.log(size)  # (B,): log q(z_i) over the batch
            return float(neg_entropy - log_qz.mean()) * size, size

    return _average(map_batches(one, batches, seed))


def _average(sums: list[tuple[float, int]]) -> float:
    total, count = 0.0, 0
    for s, n in sums:  # in the batches' order, whatever the world size
        total, count = total + s, count + n
    return total / max(count, 1)


def guide_mutual_information(guide, batches, site: str = "z", seed: int | None = None) -> float:
    """He et al. (2019)'s estimate of ``I(x; z)`` for any guide, in nats.

    Like :func:`ppl_vae.evaluation.mutual_information`, but reads ``q(z | x)`` from the guide's
    trace, so it needs no ``encode`` method: ``log q(z_i | x_j)`` for all pairs of a batch comes
    from evaluating the site's batched distribution at every item's sample. Works for any guide
    whose site distribution has a ``log_prob`` (flows included, through their inverse).
    ``seed`` and sharding over ranks as in :func:`~ppl_vae.ops.world.map_batches`.
    """

    def one(batch) -> tuple[float, int]:
        # validation off: scoring z_i under another item's flow inverts it there, which can
        # overflow; such a pair contributes nothing to the aggregate posterior (see below)
        with torch.no_grad(), poutine.block(), pyro.validation_enabled(False):
            tr = poutine.trace(guide).get_trace(*batch[0])
            fn, z = tr.nodes[site]["fn"], tr.nodes[site]["value"]
            b = z.shape[0]
            if b < 2:
                return 0.0, 0
            own = fn.log_prob(z)  # (B,)
            # cross[i, j] = log q(z_i | x_j): each sample against every item's distribution
            cross = fn.log_prob(z.unsqueeze(1).expand(b, b, *z.shape[1:]))
            cross = torch.where(torch.isfinite(cross), cross, -math.inf)
            cross.diagonal().copy_(own)
            log_agg = cross.logsumexp(1) - math.log(b)
            return float((own - log_agg).sum()), b

    return _average(map_batches(one, batches, seed))
