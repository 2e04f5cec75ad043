"""Kept for scripts written before the layered layout: see :mod:`ppl_vae.infer.objectives`."""

from ppl_vae.infer.objectives import *  # noqa: F401,F403
