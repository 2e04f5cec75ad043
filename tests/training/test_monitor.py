"""The collapse warning names the remedies a run does not use yet."""

import pytest

from ppl_vae.config import TrainConfig
from ppl_vae.models import SentenceVAE
from ppl_vae.runs.presets import preset
from ppl_vae.training.monitor import COLLAPSE_CURE, collapse_warning


@pytest.mark.parametrize(
    "kl, active_units, warns",
    [(0.003, 0, True), (2.3, 0, True), (0.2, 13, True), (2.6, 13, False)],
    ids=["collapsed", "free-kl-spent-on-no-unit", "low-kl", "in-use"],
)
def test_collapse_is_a_low_kl_or_no_active_unit(kl, active_units, warns):
    assert (collapse_warning(kl, active_units) is not None) == warns


def test_the_cure_names_what_the_run_does_not_use_yet():
    plain = preset("sentence-vae", objective="meanfield", anneal="constant",
                   model_kwargs={"word_dropout": 0.0})  # fmt: skip
    text = collapse_warning(0.0, 0, plain)
    assert "--objective free-bits --free-bits 0.2" in text
    assert "--anneal sigmoid" in text and "--word-dropout 0.3" in text
    default = collapse_warning(0.0, 0, preset("sentence-vae"))
    assert "--objective free-bits" not in default
    assert "a larger --free-bits (this run: 0.2)" in default
    assert "--anneal cyclical" in default and "a higher --word-dropout (this run: 0.3)" in default
    assert "word-dropout" not in collapse_warning(0.0, 0, preset("nvdm"))
    sentence_vae = SentenceVAE(10, 2)  # a model that has word dropout, set to 0
    assert "--word-dropout 0.3" in collapse_warning(0.0, 0, TrainConfig(), sentence_vae)
    assert COLLAPSE_CURE in collapse_warning(0.0, 0)  # without a config
