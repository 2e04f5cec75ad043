"""Runs: build a model and guide from a config (:mod:`~ppl_vae.runs.registry`,
:mod:`~ppl_vae.runs.presets`), train them into a run directory, load a run back and evaluate
it, fit the mixture of multinomials, and compare guides."""

from ppl_vae.runs.presets import preset
from ppl_vae.runs.run import (
    RESUME_OVERRIDES,
    LoadedRun,
    check_vocab,
    load_data,
    load_run,
    run_training,
    word_totals,
)
from ppl_vae.training.files import read_metrics

__all__ = [
    "RESUME_OVERRIDES",
    "LoadedRun",
    "check_vocab",
    "load_data",
    "load_run",
    "preset",
    "read_metrics",
    "run_training",
    "word_totals",
]
