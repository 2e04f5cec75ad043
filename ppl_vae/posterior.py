"""Kept for scripts written before the layered layout: see :mod:`ppl_vae.evaluation.posterior`."""

from ppl_vae.evaluation.posterior import (  # noqa: F401
    CONSTANT_RTOL,
    ITEM_DIM,
    KHAT_BAD,
    KHAT_GOOD,
    LATENT,
    LATENT_DIM,
    compare_to_reference,
    guide_samples,
    khat_summary,
    khat_threshold,
    log_weights,
    nuts_reference,
    pair_plot,
    psis_diagnostics,
    reference_summary,
    to_inference_data,
)
