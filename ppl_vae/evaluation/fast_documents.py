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
A model with another prior (NVDM's learned mixture) opts in with
``linear_softmax_decoder = True``: ``log p(z)`` is then ``model.prior(B, x).log_prob(z)``, and
the KL, which has no closed form, is reported as ``E_q[log q(z) - log p(z)]`` over the same
draws.

**Refinement of q at evaluation** (``refine_steps > 0``). The encoder's ``q(z | x)`` is the
start of :data:`REFINE_STEPS` Adam steps on each document's own ELBO (closed-form KL, the
expected log-likelihood from :data:`REFINE_SAMPLES` reparameterized draws per step), as in
Kim et al. (2018), "Semi-Amortized Variational Autoencoders", and Cremer, Li and Duvenaud
(2018), "Inference Suboptimality in Variational Autoencoders". The result is still a bound on
the same ``log p(x)``: the ELBO of another Gaussian ``q``, one closer to the posterior. The
amortization gap, the mean rise of the ELBO, is reported beside it.

A document keeps its refined ``q`` only if its ELBO, estimated with :data:`SELECT_SAMPLES`
fresh draws shared by both candidates, is at least the encoder's; the figures are then
estimated with draws independent of that choice, so the choice does not bias them. Adam's
learning rate and the number of draws per step were chosen on the validation slice of 20
Newsgroups (``examples`` and the README give the measurements).
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
        getattr(model, "data", None) == "documents"
        and (
            getattr(model, "standard_normal_prior", False)
            or getattr(model, "linear_softmax_decoder", False)
        )
        and getattr(guide, "closed_form_gaussian", False)
    )


def _gaussian_log_density(z: torch.Tensor, loc, scale) -> torch.Tensor:
    return (-0.5 * ((z - loc) / scale).pow(2) - scale.log() - 0.5 * LOG_2PI).sum(-1)


#: the most ``(samples, documents, V)`` logits held at once (16 MB of float32)
CHUNK_ELEMENTS = 4_000_000
#: the refinement steps ``ppl-vae evaluate`` and ``train`` take by default for a pair that
#: :func:`applies` (on 20 Newsgroups' validation slice, 50 and 100 steps ended within 0.3
#: perplexity points of each other)
REFINE_STEPS = 50
#: Adam's learning rate for the refinement of ``(mu, log sigma)``
REFINE_LR = 0.02
#: reparameterized draws per document per refinement step
REFINE_SAMPLES = 8
#: draws per document on which a refined ``q`` must beat the encoder's to be kept
SELECT_SAMPLES = 32


def estimate_documents(
    model,
    guide,
    batches,
    num_samples: int = 100,
    chunk: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    refine_steps: int = 0,
) -> ItemEstimates:
    """Per-document ELBO, importance-sampled ``log p(x)``, KL and ``E_q log p(x | z)`` from
    ``num_samples`` draws, for a pair that :func:`applies`; ``chunk`` samples at a time (by
    default as many as keep the logits within :data:`CHUNK_ELEMENTS`). ``seed`` and sharding
    over ranks as in :func:`~ppl_vae.evaluation.estimates.estimate_items`.

    :param refine_steps: refine each document's ``q`` by this many Adam steps on its ELBO first
        (see the module's docstring); the estimates then come from the refined ``q``, and
        :attr:`~ppl_vae.ops.metrics.ItemEstimates.elbo_encoder` holds the encoder's ELBO from
        the same draws.
    """
    if refine_steps < 0:
        raise ValueError(f"refine_steps must be >= 0, got {refine_steps}")
    R, b = model.decoder.weight, model.decoder.bias  # (V, K), (V,)
    log_prior = prior_log_density(model)

    def estimates(args: tuple) -> dict:
        x = args[0]
        return _batch_estimates(R, b, guide, x, num_samples, chunk, refine_steps, log_prior)

    return gather(estimates, batches, num_samples, seed, progress, refine_steps)


def gather(
    estimates, batches, num_samples: int, seed, progress: bool, refine_steps: int = 0
) -> ItemEstimates:
    """``estimates(args)`` (a dict of per-item tensors) for every ``(args, tokens)`` batch,
    without gradients, each batch's draws seeded by its index and shared out over ranks
    (:func:`~ppl_vae.ops.world.map_batches`), concatenated with the tokens."""

    def one(batch) -> dict:
        args, tokens = batch
        with torch.no_grad():
            piece = estimates(args)
        piece["tokens"] = torch.as_tensor(tokens, dtype=torch.float64).cpu()
        return {k: v.cpu().numpy() for k, v in piece.items()}

    bar = lambda share: tqdm(share, desc="evaluate", disable=not progress, leave=False)  # noqa: E731
    pieces = map_batches(one, batches, seed, bar)
    return ItemEstimates.concatenate(pieces, num_samples, refine_steps)


def prior_log_density(model):
    """``log p(z)`` of ``model`` as a function of draws ``z`` of shape ``(..., B, K)``, or None
    for ``N(0, I)`` (whose closed forms are used)."""
    if getattr(model, "standard_normal_prior", False):
        return None
    return lambda z: model.prior(z.shape[-2], z).log_prob(z)


def _batch_estimates(
    R, b, guide, x, num_samples: int, chunk, refine_steps: int = 0, log_prior=None
) -> dict:
    loc, scale = guide.encode(x)
    xr, xb, n = x @ R, x @ b, x.sum(-1)  # (B, K), (B,), (B,)
    start = (loc, scale)
    if refine_steps:
        loc, scale = refine(R, b, x, loc, scale, refine_steps, log_prior=log_prior)
    weights, lls, encoder = [], [], []
    step = chunk or max(1, CHUNK_ELEMENTS // (x.shape[0] * R.shape[0]))
    for first in range(0, num_samples, step):
        count = min(step, num_samples - first)
        eps = torch.stack([torch.randn_like(loc) for _ in range(count)])  # (S_c, B, K)
        w, ll = _log_weights(R, b, xr, xb, n, loc, scale, eps, log_prior)
        lls.append(ll)
        weights.append(w)
        if refine_steps:  # the encoder's q on the same draws: the amortization gap
            encoder.append(_log_weights(R, b, xr, xb, n, *start, eps, log_prior)[0])
    w, ll = torch.cat(weights), torch.cat(lls)  # (S, B) float64
    # KL(q || p): closed form for N(0, I), else E_q[log q - log p] = E_q[log p(x | z)] - ELBO
    kl = _kl(loc, scale).double() if log_prior is None else ll.mean(0) - w.mean(0)
    piece = {
        "elbo": w.mean(0),
        "log_px": w.logsumexp(0) - math.log(num_samples),
        "kl": kl,
        "ll": ll.mean(0),
        "mean": loc.double(),
    }
    if refine_steps:
        piece["elbo_encoder"] = torch.cat(encoder).mean(0)
    return piece


def _kl(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``KL(N(loc, diag scale^2) || N(0, I))`` per document."""
    return 0.5 * (loc.pow(2) + scale.pow(2) - 1).sum(-1) - scale.log().sum(-1)


def _log_lik(R, b, xr, xb, n, z: torch.Tensor) -> torch.Tensor:
    """``log p(x | z) = (xR) z + x b - N logsumexp(Rz + b)`` for ``z`` of shape ``(..., B, K)``."""
    return (z * xr).sum(-1) + xb - n * torch.logsumexp(z @ R.T + b, -1)


def _log_weights(
    R, b, xr, xb, n, loc, scale, eps, log_prior=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 ``log p(x, z) - log q(z)`` and ``log p(x | z)`` at ``z = loc + scale * eps``."""
    z = loc + scale * eps
    return log_weights(_log_lik(R, b, xr, xb, n, z), z, loc, scale, log_prior)


def log_weights(
    ll: torch.Tensor, z: torch.Tensor, loc, scale, log_prior=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 ``log p(x | z) + log p(z) - log q(z)`` and ``log p(x | z)``, from the
    log-likelihood ``ll`` of the draws ``z`` of ``q = N(loc, diag scale^2)``; ``log p(z)`` is
    ``log_prior(z)``, or ``log N(z; 0, I)`` when it is None."""
    if log_prior is None:
        log_p = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)
    else:
        log_p = log_prior(z)
    log_q = _gaussian_log_density(z, loc, scale)
    return ll.double() + log_p.double() - log_q.double(), ll.double()


def refine(
    R: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    loc: torch.Tensor,
    scale: torch.Tensor,
    steps: int,
    lr: float = REFINE_LR,
    samples: int = REFINE_SAMPLES,
    log_prior=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each document's ``(mu, sigma)`` after ``steps`` Adam steps up its own ELBO, from the
    encoder's ``(loc, scale)``; a document whose refined ``q`` does not beat the encoder's on
    :data:`SELECT_SAMPLES` shared draws keeps the encoder's. No gradient reaches ``R``, ``b``
    or the encoder. Draws from torch's current RNG. ``log_prior`` as in :func:`log_weights`:
    with a prior other than ``N(0, I)`` the KL is estimated from each step's draws.

    Every document's ELBO depends only on its own row of ``(mu, log sigma)``, so one Adam over
    the batch's rows is one Adam per document (its moments are elementwise).
    """
    R, b, x = R.detach(), b.detach(), x.detach()
    xr, xb, n = x @ R, x @ b, x.sum(-1)
    mu = loc.detach().clone().requires_grad_()
    log_sigma = scale.detach().log().clone().requires_grad_()
    optimizer = torch.optim.Adam([mu, log_sigma], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            eps = torch.randn((samples, *mu.shape), dtype=mu.dtype, device=mu.device)
            sigma = log_sigma.exp()
            z = mu + sigma * eps
            expected = _log_lik(R, b, xr, xb, n, z).mean(0)
            if log_prior is None:
                kl = _kl(mu, sigma)
            else:  # E_q[log q(z) - log p(z)]: log q(z) = log N(eps; 0, I) - sum log sigma
                kl = (_gaussian_log_density(z, mu, sigma) - log_prior(z)).mean(0)
            loss = (kl - expected).sum()
            # the gradient of (mu, log sigma) only: nothing accumulates in the model's prior
            mu.grad, log_sigma.grad = torch.autograd.grad(loss, [mu, log_sigma])
            optimizer.step()
    with torch.no_grad():
        mu, sigma = mu.detach(), log_sigma.detach().exp()
        eps = torch.randn((SELECT_SAMPLES, *mu.shape), dtype=mu.dtype, device=mu.device)
        better = (
            _log_weights(R, b, xr, xb, n, mu, sigma, eps, log_prior)[0].mean(0)
            >= _log_weights(R, b, xr, xb, n, loc, scale, eps, log_prior)[0].mean(0)
        )[:, None]
    return torch.where(better, mu, loc.detach()), torch.where(better, sigma, scale.detach())
