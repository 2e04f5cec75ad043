"""Kept for scripts written before the layered layout: see :mod:`ppl_vae.ops.annealing`."""

from ppl_vae.ops.annealing import (  # noqa: F401
    SCHEDULES,
    Constant,
    Cyclical,
    LinearWarmup,
    Schedule,
    Sigmoid,
    kl_annealing,
    make_schedule,
)
