"""Kept for scripts written before the layered layout: see :mod:`ppl_vae.ops.annealing`."""

from ppl_vae.ops.annealing import *  # noqa: F401,F403
