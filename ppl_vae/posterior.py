"""Kept for scripts written before the layered layout: see :mod:`ppl_vae.evaluation.posterior`."""

from ppl_vae.evaluation.posterior import *  # noqa: F401,F403
