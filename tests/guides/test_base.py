"""A guide's facts live on its class, and the pairings an objective refuses follow from them."""

import pytest

from ppl_vae.guides import DiagonalGaussianGuide, Guide
from ppl_vae.infer.objectives import OBJECTIVE_CLASSES, check_combination
from ppl_vae.runs.registry import GUIDE_CLASSES, GUIDES


class DiscreteGuide(Guide):  # a new guide declares its facts, and nothing else changes
    name = "discrete"
    fits = ("nvdm",)
    reparameterized = False
    default_objective = "nvil"


@pytest.mark.parametrize("objective", ["meanfield", "iwae", "free-bits"])
def test_an_objective_refuses_a_guide_by_its_facts(objective):
    with pytest.raises(ValueError, match="needs a reparameterized guide.*use nvil"):
        check_combination(DiscreteGuide, objective)


@pytest.mark.parametrize("objective", ["trace", "nvil", "wake-sleep", "rws"])
def test_an_objective_whose_requirements_hold_accepts_it(objective):
    check_combination(DiscreteGuide, objective)


def test_the_refusals_are_exactly_what_the_facts_imply():
    refused = {
        (g, o)
        for g, cls in GUIDE_CLASSES.items()
        for o, objective in OBJECTIVE_CLASSES.items()
        if objective.refusal(cls)
    }
    score_function = ("bernoulli", "score-function")
    assert refused == {
        *[(g, o) for g in score_function for o in ("meanfield", "free-bits", "iwae")],
        ("iaf", "free-bits"),
        ("full-covariance", "free-bits"),
        ("none", "wake-sleep"),
        ("none", "rws"),
        # CD needs an RBM's exact conditional, which trains with CD alone
        *[(g, "cd") for g in GUIDE_CLASSES if g != "rsm-conditional"],
        *[("rsm-conditional", o) for o in OBJECTIVE_CLASSES if o != "cd"],
        # the autoencoder's point mass trains with the reconstruction likelihood alone
        *[("deterministic", o) for o in OBJECTIVE_CLASSES if o != "trace"],
    }  # fmt: skip


def test_the_registry_gathers_the_exported_guides_by_their_facts():
    assert GUIDES["nvdm"]["diagonal"] is DiagonalGaussianGuide
    assert set(GUIDES["sbn"]) == {"bernoulli"} and set(GUIDES["rnnlm"]) == {"none"}
    assert "discrete" not in GUIDE_CLASSES  # only what ppl_vae.guides exports
    for model, guides in GUIDES.items():
        assert all(model in cls.fits for cls in guides.values())
