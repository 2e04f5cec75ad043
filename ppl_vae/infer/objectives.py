"""Training objectives by name, all usable with :class:`~pyro.infer.SVI`."""

from __future__ import annotations

from pyro.infer import ELBO, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

from ppl_vae.infer.free_bits import FreeBitsELBO
from ppl_vae.infer.iwae import IWAE
from ppl_vae.infer.wake_sleep import ReweightedWakeSleep, WakeSleep

OBJECTIVES = ("trace", "meanfield", "nvil", "wake-sleep", "rws", "free-bits", "iwae")
# IWAE is not annealable: it has no separate KL term to weight
ANNEALABLE = ("trace", "meanfield", "nvil", "free-bits")
# objectives whose validation ELBO should climb, so that early stopping may watch it
ELBO_CLIMBING = (*ANNEALABLE, "iwae")


def make_objective(
    name: str,
    num_particles: int = 1,
    free_bits: float = 0.5,
    vectorize_particles: bool = False,
) -> ELBO:
    """The objective ``name``.

    * ``"trace"``: :class:`~pyro.infer.Trace_ELBO`, a Monte Carlo estimate of the whole ELBO.
    * ``"meanfield"``: :class:`~pyro.infer.TraceMeanField_ELBO`, with the KL term computed
      analytically where :func:`~pyro.distributions.kl.kl_divergence` knows it.
    * ``"nvil"``: :class:`~pyro.infer.TraceGraph_ELBO`: score-function gradients for discrete
      latents, with the baselines the guide declares (Mnih and Gregor, 2014).
    * ``"wake-sleep"``: :class:`~ppl_vae.infer.wake_sleep.WakeSleep` (Hinton et al., 1995).
    * ``"rws"``: :class:`~ppl_vae.infer.wake_sleep.ReweightedWakeSleep` with ``num_particles`` K
      (Bornschein and Bengio, 2015), with weights normalized per datapoint.
    * ``"free-bits"``: :class:`~ppl_vae.infer.free_bits.FreeBitsELBO` with ``free_bits`` nats per
      latent dimension (Kingma et al., 2016).
    * ``"iwae"``: :class:`~ppl_vae.infer.iwae.IWAE`, the importance weighted bound with
      ``num_particles`` K >= 1 samples per datapoint (Burda et al., 2016), i.e.
      :class:`~pyro.infer.RenyiELBO` with ``alpha = 0``. It is per datapoint only when every
      sample site of the model and guide is inside the data plate (otherwise the batch is
      weighted jointly), and it trains only reparameterized guides: check a model/guide pair
      with :func:`ppl_vae.infer.iwae.check_iwae` (or
      :func:`ppl_vae.infer.iwae.check_sites_in_plate`) before training. ``vectorize_particles``
      draws the K particles in one pass, for models that broadcast over a leading particle
      dimension (NVDM, not SentenceVAE).

    The ELBOs honour KL annealing through :func:`ppl_vae.ops.annealing.kl_annealing`; the wake-sleep
    objectives and IWAE, which form no KL term, refuse a KL weight other than 1.
    """
    kwargs = {"num_particles": num_particles, "vectorize_particles": False}
    if name == "trace":
        return Trace_ELBO(**kwargs)
    if name == "meanfield":
        return TraceMeanField_ELBO(**kwargs)
    if name == "nvil":
        return TraceGraph_ELBO(**kwargs)
    if name == "wake-sleep":
        return WakeSleep(sleep_particles=num_particles)
    if name == "free-bits":
        return FreeBitsELBO(free_bits, num_particles)
    if name == "iwae":  # refuses num_particles < 1
        return IWAE(num_particles, vectorize_particles=vectorize_particles)
    if name == "rws":
        return ReweightedWakeSleep(num_particles=max(2, num_particles))
    raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
