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


FLAGS = [
    ("--hidden", "32,16", "guide_kwargs", {"hidden_sizes": [32, 16]}),
    ("--encoder-dropout", "0.2", "guide_kwargs", {"dropout": 0.2}),
    ("--prior-components", "20", "model_kwargs", {"prior_components": 20}),
    ("--particles", "3", "num_particles", 3),
    ("--ema", "0", "ema_decay", 0.0),
    ("--latent-dim", "7", "latent_dim", 7),
    ("--lr-drop", "0.5", "lr_drop", 0.5),
    ("--weight-decay", "0", "weight_decay", 0.0),
    ("--clip-norm", "2", "clip_norm", 2.0),
    ("--free-bits", "0.1", "free_bits", 0.1),
    ("--seed", "4", "seed", 4),
]


@pytest.mark.parametrize("flag, value, where, expected", FLAGS, ids=[f[0] for f in FLAGS])
def test_every_flag_reaches_its_field(flag, value, where, expected):
    args = build_parser().parse_args(["train", "nvdm", "--out", "x", flag, value])
    got = getattr(config_from_args(args, "nvdm", None), where)
    if isinstance(expected, dict):
        assert {k: got[k] for k in expected} == expected
    else:
        assert got == expected


def test_every_subcommand_takes_threads():
    import argparse

    from ppl_vae.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"train", "evaluate", "sample", "reconstruct", "interpolate", "topics",
            "compare", "download"} <= set(sub.choices)  # fmt: skip
    for name, p in sub.choices.items():
        threads = [a for a in p._actions if "--threads" in a.option_strings]
        assert threads and threads[0].type is int, name


def test_a_mixture_prior_is_refused_by_models_without_one():
    from ppl_vae.cli.options import UsageError

    args = build_parser().parse_args(["train", "sbn", "--out", "x", "--prior-components", "5"])
    with pytest.raises(UsageError, match="--prior-components"):
        config_from_args(args, "sbn", None)
