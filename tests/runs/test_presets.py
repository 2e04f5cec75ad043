"""Defaults per model live in the library, where the CLI, examples and scripts read them."""

import pytest

from ppl_vae.runs.presets import preset


def test_nvdm_on_a_corpus():
    c = preset("nvdm", synthetic=False)
    assert (c.guide, c.objective, c.latent_dim, c.epochs) == ("diagonal", "meanfield", 50, 150)
    assert c.weight_decay == 0.05 and c.guide_kwargs == {"hidden_sizes": [500, 500]}
    assert c.patience == 30 and c.anneal_epochs == 0.0


def test_the_guide_brings_its_objective_and_clipping():
    c = preset("nvdm", "score-function")
    assert (c.objective, c.clip_norm, c.epochs) == ("nvil", 10.0, 40)


def test_early_stopping_is_off_for_objectives_that_do_not_climb_the_elbo():
    assert preset("sbn", objective="rws").patience == 0


def test_sentence_models_take_bowmans_sizes_and_overrides_merge():
    c = preset("sentence-vae", model_kwargs={"word_dropout": 0.5}, anneal="linear")
    assert c.model_kwargs == {
        "embedding_dim": 353, "hidden_dim": 191, "word_dropout": 0.5, "dropout": 0.3
    }  # fmt: skip
    assert (c.latent_dim, c.batch_size, c.anneal, c.anneal_epochs) == (13, 32, "linear", 4.0)
    assert preset("rnnlm").guide_kwargs == {}
    assert preset("rnnlm").model_kwargs == {"embedding_dim": 353, "hidden_dim": 191}


@pytest.mark.parametrize("guide", ["lstm", "bilstm", "mean-pool"])
def test_the_sentence_vae_keeps_z_in_use_by_default(guide):
    """Free bits, a sigmoid warm-up and word dropout, whatever the encoder."""
    c = preset("sentence-vae", guide)
    assert (c.objective, c.free_bits, c.anneal, c.anneal_epochs) == (
        "free-bits", 0.2, "sigmoid", 4.0
    )  # fmt: skip
    assert (c.model_kwargs["word_dropout"], c.model_kwargs["dropout"]) == (0.3, 0.3)


def test_a_warm_up_takes_at_most_half_of_a_run_unless_given():
    assert preset("sentence-vae", epochs=2).anneal_epochs == 1.0
    assert preset("lda", epochs=10).anneal_epochs == 5.0
    assert preset("sentence-vae", epochs=2, anneal_epochs=3.0).anneal_epochs == 3.0


def test_an_objective_without_a_kl_term_drops_the_presets_warm_up_but_not_a_users():
    c = preset("sentence-vae", objective="iwae")
    assert (c.anneal, c.anneal_epochs) == ("constant", 0.0)
    with pytest.raises(ValueError, match="KL annealing"):
        preset("sentence-vae", objective="iwae", anneal="sigmoid")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "rnnlm", "model_kwargs": {"word_dropout": 0.3}}, "takes no option"),
        ({"model": "sentence-vae", "guide_kwargs": {"hidden_sizes": [3]}}, "takes no option"),
        ({"model": "nvdm", "objective": "wake-sleep", "anneal": "linear"}, "KL annealing"),
        ({"model": "nvdm", "guide": "iaf", "objective": "free-bits"}, "analytic KL"),
        ({"model": "nvdm", "guide": "lstm"}, "does not fit model"),
    ],
    ids=["rnnlm-word-dropout", "lstm-hidden-sizes", "wake-sleep-annealed", "iaf-free-bits",
         "nvdm-lstm"],
)  # fmt: skip
def test_what_cannot_work_is_refused_with_its_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        preset(**kwargs)


def test_rsm_trains_contrastive_divergence_for_50_epochs_without_weight_averaging():
    c = preset("rsm", synthetic=False)
    assert (c.objective, c.epochs, c.ema_decay, c.patience) == ("cd", 50, 0.0, 0)
    assert preset("rsm", epochs=10).epochs == 10
