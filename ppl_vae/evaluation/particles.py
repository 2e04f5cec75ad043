r"""Importance-sampled evaluation of a Gaussian-latent sequence model, with the encoder run once
per item and the particles drawn in batches.

For a model with ``z ~ N(0, I)`` and a guide whose ``q(z | x)`` is the diagonal Gaussian
``encode(*args)`` returns (the sentence VAE with any of its encoders), the importance weights
need the guide's encoder once per item, and the decoder once per particle:

.. math::
    \log w_s = \log p(x \mid z_s) + \log \mathcal N(z_s; 0, I) - \log q(z_s \mid x),
    \qquad z_s = \mu(x) + \sigma(x) \odot \epsilon_s .

The particles of a chunk run through the decoder together, as one batch of ``S_c B`` items
(the ``B`` items' arguments repeated ``S_c`` times), so a sentence VAE's LSTM encoder is not
re-run for every sample, as a loop over :func:`~ppl_vae.ops.traces.particle_terms` does, and
its decoder works on larger batches. The draws are the guide's own (one ``(B, K)`` block of
standard normals per sample, in order), so with the same seed the estimates equal the
trace-based ones to float tolerance. Log weights are accumulated in float64.

A model opts in with ``standard_normal_prior = True``, ``data = "sentences"`` and a method
``likelihood(z, *args)`` returning the observed site's distribution, whose ``log_prob(args[0])``
is one number per item; a guide with ``closed_form_gaussian = True`` and ``encode(*args)``.
"""

from __future__ import annotations

import math

import torch

from ppl_vae.evaluation.fast_documents import gather, log_weights
from ppl_vae.ops.metrics import ItemEstimates

#: the most logits (particles x items x positions x V) a chunk of particles may hold: 64 MB
CHUNK_ELEMENTS = 16_000_000


def applies(model, guide) -> bool:
    """Whether ``model`` and ``guide`` are a pair this estimator handles."""
    return bool(
        getattr(model, "data", None) == "sentences"
        and getattr(model, "standard_normal_prior", False)
        and callable(getattr(model, "likelihood", None))
        and getattr(guide, "closed_form_gaussian", False)
    )


def estimate_particles(
    model,
    guide,
    batches,
    num_samples: int = 100,
    chunk: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    vocab_size: int | None = None,
) -> ItemEstimates:
    """Per-item ELBO, importance-sampled ``log p(x)``, KL and ``E_q log p(x | z)`` from
    ``num_samples`` draws, for a pair that :func:`applies`; ``chunk`` particles at a time (by
    default as many as keep the logits within :data:`CHUNK_ELEMENTS`, given ``vocab_size``).
    ``seed`` and sharding over ranks as in :func:`~ppl_vae.evaluation.estimates.estimate_items`.
    """

    def estimates(args: tuple) -> dict:
        return _batch_estimates(model, guide, args, num_samples, chunk, vocab_size)

    return gather(estimates, batches, num_samples, seed, progress)


def _chunk_size(args: tuple, vocab_size: int | None) -> int:
    first = args[0]
    per_particle = first.numel() * (vocab_size or 10_000)  # items x positions x V
    return max(1, CHUNK_ELEMENTS // max(1, per_particle))


def _batch_estimates(model, guide, args, num_samples: int, chunk, vocab_size) -> dict:
    loc, scale = guide.encode(*args)
    batch = loc.shape[0]
    kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1).sum(-1) - scale.log().sum(-1)
    step = chunk or _chunk_size(args, vocab_size)
    weights, lls = [], []
    for start in range(0, num_samples, step):
        count = min(step, num_samples - start)
        eps = torch.stack([torch.randn_like(loc) for _ in range(count)])  # (S_c, B, K)
        z = loc + scale * eps
        repeated = tuple(_repeat(a, count) for a in args)
        ll = model.likelihood(z.reshape(count * batch, -1), *repeated).log_prob(repeated[0])
        w, ll = log_weights(ll.reshape(count, batch), z, loc, scale)
        lls.append(ll)
        weights.append(w)
    w, ll = torch.cat(weights), torch.cat(lls)  # (S, B) float64
    return {
        "elbo": w.mean(0),
        "log_px": w.logsumexp(0) - math.log(num_samples),
        "kl": kl.double(),
        "ll": ll.mean(0),
        "mean": loc.double(),
    }


def _repeat(arg: torch.Tensor, count: int) -> torch.Tensor:
    """``arg`` repeated ``count`` times along its first (item) dimension."""
    return arg.repeat(count, *([1] * (arg.dim() - 1)))
