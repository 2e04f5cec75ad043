"""Evaluation and analysis: :func:`evaluate` (one entry point for every model), mutual
information, posterior diagnostics, gradient variance, generation, topics, plots and reports.

The names that lived in ``ppl_vae.evaluation`` before it became a package are re-exported.
"""

from ppl_vae.evaluation.estimates import (
    Evaluation,
    ItemEstimates,
    estimate_items,
    evaluate,
    summarize,
)
from ppl_vae.evaluation.information import guide_mutual_information, mutual_information
from ppl_vae.ops.metrics import (
    ACTIVE_UNIT_THRESHOLD,
    active_units,
    perplexity_corpus,
    perplexity_per_document,
)
from ppl_vae.ops.traces import (
    ParticleTerms,
    SiteOutsidePlateError,
    data_plate,
    latent_sites,
    observed_sites,
    outermost_plate,
    particle_terms,
    per_item,
    site_log_prob,
)

__all__ = [
    "ACTIVE_UNIT_THRESHOLD",
    "Evaluation",
    "ItemEstimates",
    "ParticleTerms",
    "SiteOutsidePlateError",
    "active_units",
    "data_plate",
    "estimate_items",
    "evaluate",
    "guide_mutual_information",
    "latent_sites",
    "mutual_information",
    "observed_sites",
    "outermost_plate",
    "particle_terms",
    "per_item",
    "perplexity_corpus",
    "perplexity_per_document",
    "site_log_prob",
    "summarize",
]
