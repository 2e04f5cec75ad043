"""Sentence runs side by side: the autoencoder-against-VAE figures and examples."""

import pytest

from ppl_vae.cli import main
from ppl_vae.runs.latent_space import compare_latent_spaces
from ppl_vae.runs.run import CheckpointError
from tests.cli.flags import TINY_SENTENCES


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent")
    for model in ("sentence-ae", "sentence-vae", "rnnlm"):
        assert main(["train", model, "--out", str(root / model), *TINY_SENTENCES]) == 0
    return root


def test_compare_latent_spaces_measures_each_run(runs):
    figures = compare_latent_spaces(
        {"ae": runs / "sentence-ae", "vae": runs / "sentence-vae"}, runs / "rnnlm",
        items=30, samples=20, pairs=6,
    )  # fmt: skip
    for label in ("ae", "vae"):
        f = figures[label]
        assert f["reconstruction"]["sentences"] == 30
        assert 0 <= f["reconstruction"]["exact_match"] <= f["reconstruction"]["token_accuracy"]
        for key in ("prior_nll_per_token", "codes_nll_per_token", "midpoint_nll_per_token"):
            assert f[key] > 0
        assert 0 <= f["interpolation_repeat_or_degenerate"] <= 1
        assert len(f["examples"]["prior"]) == 5 and len(f["examples"]["midpoints"]) == 5
        assert len(f["examples"]["reconstructions"]) == 8
    again = compare_latent_spaces({"ae": runs / "sentence-ae"}, runs / "rnnlm", items=30,
                                  samples=20, pairs=6)  # fmt: skip
    assert again["ae"] == figures["ae"]  # seeded


def test_a_run_without_a_code_is_refused(runs):
    with pytest.raises(CheckpointError, match="needs a sentence-vae or sentence-ae run"):
        compare_latent_spaces({"lm": runs / "rnnlm"}, runs / "rnnlm", items=5)
