r"""Importance-sampled evaluation of a Gaussian document model, without re-running the encoder.

For a model ``z ~ N(0, I)``, ``log p(x | z) = sum_v x_v log softmax(Rz + b)_v`` (NVDM) and a
guide whose ``q(z | x)`` is the diagonal Gaussian ``encode(x)`` returns, every quantity of
:func:`~ppl_vae.evaluation.estimates.estimate_items` has a closed form but the expectation:

.. math::
    \log p(x \mid z) = (x^\top R)\,z + x^\top b - N \log \textstyle\sum_v e^{(Rz + b)_v}

So the encoder runs once per document, the samples are drawn in chunks of particles, and only
``logsumexp(Rz + b)`` needs the whole vocabulary: one ``(S_c B, K) x (K, V)`` product per chunk.
The draws are the guide's own (``loc + scale * eps``, one ``(B, K)`` block of standard normals
per sample, in the order the guide draws them), so with the same seed the estimates equal the
trace-based ones to float tolerance. Log weights are accumulated in float64.

A model opts in with ``standard_normal_prior = True`` and a ``decoder`` (``nn.Linear``) giving
``Rz + b``; a guide with ``closed_form_gaussian = True`` and ``encode(x) -> (loc, scale)``.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from ppl_vae.ops.metrics import ItemEstimates
from ppl_vae.ops.world import map_batches

LOG_2PI = math.log(2 * math.pi)


def applies(model, guide) -> bool:
    """Whether ``model`` and ``guide`` are a pair this estimator computes exactly."""
    return bool(
        getattr(model, "standard_normal_prior", False)
        and getattr(guide, "closed_form_gaussian", False)
    )


def _gaussian_log_density(z: torch.Tensor, loc, scale) -> torch.Tensor:
    return (-0.5 * ((z - loc) / scale).pow(2) - scale.log() - 0.5 * LOG_2PI).sum(-1)


#: the most ``(samples, documents, V)`` logits held at once (16 MB of float32)
CHUNK_ELEMENTS = 4_000_000


def estimate_documents(
    model,
    guide,
    batches,
    num_samples: int = 100,
    chunk: int | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> ItemEstimates:
    """Per-document ELBO, importance-sampled ``log p(x)``, KL and ``E_q log p(x | z)`` from
    ``num_samples`` draws, for a pair that :func:`applies`; ``chunk`` samples at a time (by
    default as many as keep the logits within :data:`CHUNK_ELEMENTS`). ``seed`` and sharding
    over ranks as in :func:`~ppl_vae.evaluation.estimates.estimate_items`."""
    R, b = model.decoder.weight, model.decoder.bias  # (V, K), (V,)

    def one(batch) -> dict:
        args, tokens = batch
        with torch.no_grad():
            piece = _batch_estimates(R, b, guide, args[0], num_samples, chunk)
        piece["tokens"] = torch.as_tensor(tokens, dtype=torch.float64).cpu()
        return {k: v.cpu().numpy() for k, v in piece.items()}

    bar = lambda share: tqdm(share, desc="evaluate", disable=not progress, leave=False)  # noqa: E731
    return ItemEstimates.concatenate(map_batches(one, batches, seed, bar), num_samples)


def _batch_estimates(R, b, guide, x, num_samples: int, chunk: int | None) -> dict:
    loc, scale = guide.encode(x)
    xr, xb, n = x @ R, x @ b, x.sum(-1)  # (B, K), (B,), (B,)
    kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1).sum(-1) - scale.log().sum(-1)
    weights, lls = [], []
    step = chunk or max(1, CHUNK_ELEMENTS // (x.shape[0] * R.shape[0]))
    for start in range(0, num_samples, step):
        count = min(step, num_samples - start)
        eps = torch.stack([torch.randn_like(loc) for _ in range(count)])  # (S_c, B, K)
        z = loc + scale * eps
        ll = (z * xr).sum(-1) + xb - n * torch.logsumexp(z @ R.T + b, -1)
        log_prior = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)
        log_q = _gaussian_log_density(z, loc, scale)
        lls.append(ll.double())
        weights.append(ll.double() + log_prior.double() - log_q.double())
    w, ll = torch.cat(weights), torch.cat(lls)  # (S, B) float64
    return {
        "elbo": w.mean(0),
        "log_px": w.logsumexp(0) - math.log(num_samples),
        "kl": kl.double(),
        "ll": ll.mean(0),
        "mean": loc.double(),
    }
