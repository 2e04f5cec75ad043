"""The command line holds no defaults of its own: with no flags it trains the library's preset."""

import pytest

from ppl_vae.cli import build_parser
from ppl_vae.cli.options import config_from_args
from ppl_vae.runs.presets import preset
from ppl_vae.runs.registry import MODELS


@pytest.mark.parametrize("model", sorted(MODELS))
def test_no_flags_give_the_models_preset(model):
    args = build_parser().parse_args(["train", model, "--out", "x", "--device", "cpu"])
    assert config_from_args(args, model, None) == preset(model)


def test_a_flag_replaces_only_its_own_default():
    argv = ["train", "sentence-vae", "--out", "x", "--word-dropout", "0.3", "--device", "cpu"]
    argv += ["--data", "corpus", "--hidden-dim", "64"]
    config = config_from_args(build_parser().parse_args(argv), "sentence-vae", None)
    expected = preset(
        "sentence-vae",
        synthetic=False,
        model_kwargs={"word_dropout": 0.3, "hidden_dim": 64},
        guide_kwargs={"hidden_dim": 64},
    )
    assert config == expected and config.model_kwargs["embedding_dim"] == 353
