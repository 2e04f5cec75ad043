"""Free bits (Kingma et al., 2016, "Improved Variational Inference with Inverse Autoregressive
Flow", Appendix C): a KL term that stops pushing below ``lambda`` nats per latent dimension.

The objective is ``E_q[log p(x | z)] - beta * sum_j max(lambda, KL_j)``, where ``KL_j`` is the
analytic KL of dimension j averaged over the minibatch. Dimensions already below ``lambda``
get no KL gradient, so the decoder cannot profit from collapsing them, and the latent is
encouraged to carry at least ``lambda`` nats per dimension. With ``lambda = 0`` it is the
ordinary (annealed) ELBO with an analytic KL.
"""

from __future__ import annotations

import torch
from pyro import poutine
from pyro.distributions import Independent
from pyro.distributions.kl import kl_divergence
from pyro.infer import ELBO

from ppl_vae.infer.base import Objective
from ppl_vae.ops.traces import data_plate, latent_sites, observed_sites, per_item, site_log_prob


def _base(fn):
    while isinstance(fn, Independent):
        fn = fn.base_dist
    return fn


class FreeBitsELBO(Objective, ELBO):
    """Free-bits objective for models whose latent sites have an analytic KL to their prior
    (e.g. diagonal Gaussians). Honours ``annealing_factor`` (beta) on the clamped KL term.

    :param free_bits: ``lambda``, in nats per latent dimension.
    """

    name = "free-bits"
    annealable = True
    elbo_climbing = True
    requires = ("reparameterized", "analytic_kl")

    @classmethod
    def from_options(cls, num_particles=1, free_bits=0.5, vectorize_particles=False):
        return cls(free_bits, num_particles)

    def __init__(self, free_bits: float = 0.5, num_particles: int = 1) -> None:
        if free_bits < 0:
            raise ValueError("free_bits must be >= 0")
        super().__init__(num_particles=num_particles)
        self.free_bits = free_bits

    def _get_trace(self, model, guide, args, kwargs):  # pragma: no cover - not trace-based
        raise NotImplementedError

    def _terms(self, model, guide, args, kwargs):
        kwargs = {**kwargs, "annealing_factor": 1.0}  # beta is applied here, after clamping
        guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(
            *args, **kwargs
        )
        plate, batch = data_plate(model_trace)
        rec = sum(
            per_item(site_log_prob(s), s, plate, batch).sum() for s in observed_sites(model_trace)
        )
        clamped, raw = 0.0, 0.0
        for site in latent_sites(model_trace):
            kl = kl_divergence(_base(guide_trace.nodes[site["name"]]["fn"]), _base(site["fn"]))
            per_dim = kl.reshape(batch, -1).mean(0)  # (K,): mean over the batch
            clamped = clamped + batch * per_dim.clamp(min=self.free_bits).sum()
            raw = raw + batch * per_dim.sum()
        return rec, clamped, raw

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            rec, clamped, _ = self._terms(model, guide, args, kwargs)
        return float(-(rec - float(kwargs.get("annealing_factor", 1.0)) * clamped))

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        beta = float(kwargs.get("annealing_factor", 1.0))
        total = 0.0
        for _ in range(self.num_particles):
            rec, clamped, _ = self._terms(model, guide, args, kwargs)
            total = total - (rec - beta * clamped) / self.num_particles
        return total
