"""Per-datapoint terms read from Pyro traces: the shared core of evaluation and of the
objectives that weight samples per datapoint (IWAE, RWS, wake-sleep, free bits).

:func:`particle_terms` draws ``z ~ q(z | x)`` once and scores it under the model, per datapoint
of the data plate; :func:`per_item` sums a site's log-prob over every dimension but the plate's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from pyro import poutine
from pyro.distributions.kl import kl_divergence
from pyro.poutine.util import site_is_subsample


class SiteOutsidePlateError(ValueError):
    """A sample site is not inside the data plate, so per-datapoint weights are undefined."""


def per_item(log_prob: torch.Tensor, site: dict, plate: str, batch: int) -> torch.Tensor:
    """Sum a site's log-prob over every dim but the data plate's, giving ``(batch,)``."""
    frame = next((f for f in site["cond_indep_stack"] if f.name == plate), None)
    if frame is None:
        raise SiteOutsidePlateError(
            f"sample site {site['name']!r} is not inside the plate {plate!r}; per-datapoint "
            "ELBO and importance weights need every sample site inside the data plate"
        )
    dim = frame.dim
    lp = log_prob
    while lp.dim() < -dim:
        lp = lp.unsqueeze(0)
    lp = lp.movedim(dim, 0)
    lp = lp.expand((batch,) + lp.shape[1:])
    return lp.reshape(batch, -1).sum(1)


def site_log_prob(site: dict) -> torch.Tensor:
    """``log_prob`` of a site's value, with the site's mask applied (no scale)."""
    lp = site["fn"].log_prob(site["value"])
    if site.get("mask") is not None:
        lp = (
            lp.masked_fill(~site["mask"].bool(), 0.0)
            if torch.is_tensor(site["mask"])
            else (lp if site["mask"] else torch.zeros_like(lp))
        )
    return lp


def observed_sites(trace) -> list[dict]:
    return [
        s
        for s in trace.nodes.values()
        if s["type"] == "sample" and s["is_observed"] and not site_is_subsample(s)
    ]


def latent_sites(trace) -> list[dict]:
    return [
        s
        for s in trace.nodes.values()
        if s["type"] == "sample" and not s["is_observed"] and not site_is_subsample(s)
    ]


def data_plate(model_trace, plate: str | None = None) -> tuple[str, int]:
    """The data plate's name and size: ``plate`` if given, else the outermost vectorized plate
    of the model's first observed site."""
    observed = observed_sites(model_trace)
    if not observed:
        raise ValueError("the model has no observed sample site")
    if plate is None:
        return outermost_plate(observed[0])
    return plate, next(f.size for f in observed[0]["cond_indep_stack"] if f.name == plate)


def outermost_plate(site: dict) -> tuple[str, int]:
    """Name and size of the outermost vectorized plate around ``site``."""
    frames = [f for f in site["cond_indep_stack"] if f.vectorized]
    if not frames:
        raise SiteOutsidePlateError(f"site {site['name']!r} is in no plate")
    frame = min(frames, key=lambda f: f.dim)
    return frame.name, frame.size


@dataclass
class ParticleTerms:
    """One guide sample's per-datapoint terms, each ``(batch,)``."""

    log_weight: torch.Tensor  # log p(x, z) - log q(z | x)
    log_likelihood: torch.Tensor  # log p(x | z)
    kl: torch.Tensor  # analytic KL(q || p) where available, else log q(z) - log p(z)
    latent_mean: torch.Tensor | None  # E_q[z] flattened per datapoint, if the guide gives it
    latent_sample: torch.Tensor  # z flattened per datapoint


def particle_terms(
    model: Callable, guide: Callable, *args, plate: str | None = None, **kwargs
) -> ParticleTerms:
    """Draw ``z ~ q(z | x)`` once and score it under the model, per datapoint.

    :param plate: the data plate's name; by default the outermost plate of the first
        observed site.
    """
    guide_tr = poutine.trace(guide).get_trace(*args, **kwargs)
    model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(*args, **kwargs)
    plate, batch = data_plate(model_tr, plate)

    zeros = torch.zeros(batch, dtype=torch.float64)
    log_lik, log_prior, log_q, kl = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    means, samples, have_means = [], [], True
    for name, site in model_tr.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        lp = per_item(site_log_prob(site), site, plate, batch).double()
        if site["is_observed"]:
            log_lik += lp.cpu()
            continue
        gsite = guide_tr.nodes.get(name)
        if gsite is None:
            raise ValueError(f"latent site {name!r} of the model is not sampled by the guide")
        lq = per_item(site_log_prob(gsite), gsite, plate, batch).double()
        log_prior += lp.cpu()
        log_q += lq.cpu()
        try:
            kl_site = kl_divergence(gsite["fn"], site["fn"])
            kl += per_item(kl_site, gsite, plate, batch).double().cpu()
        except NotImplementedError:
            kl += (lq - lp).cpu()
        samples.append(gsite["value"].detach().reshape(batch, -1))
        try:
            means.append(gsite["fn"].mean.detach().expand_as(gsite["value"]).reshape(batch, -1))
        except (NotImplementedError, AttributeError, RuntimeError):
            have_means = False
    return ParticleTerms(
        log_weight=log_lik + log_prior - log_q,
        log_likelihood=log_lik,
        kl=kl,
        latent_mean=torch.cat(means, 1).cpu() if means and have_means else None,
        latent_sample=torch.cat(samples, 1).cpu() if samples else torch.zeros(batch, 0),
    )
