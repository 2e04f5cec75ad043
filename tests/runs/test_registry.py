"""Every guide/objective pairing the CLI offers trains, or is refused with its reason."""

import math

import pytest

from ppl_vae.config import TrainConfig
from ppl_vae.data import SyntheticSpec, load_documents
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.infer.objectives import OBJECTIVES, check_combination, make_objective
from ppl_vae.runs.registry import GUIDES, SENTENCE_MODELS, build, guide_class
from ppl_vae.training import make_optimizer, optimizer_step

PAIRINGS = [(m, g, o) for m, guides in GUIDES.items() for g in guides for o in OBJECTIVES]
SPEC = SyntheticSpec(3, 10, 30, mean_length=30.0, train_docs=16, valid_docs=4, test_docs=4)


@pytest.fixture(scope="module")
def corpora():
    return {"documents": load_documents({"kind": "synthetic", "spec": SPEC.to_dict()}),
            "sentences": load_sentence_data()}  # fmt: skip


@pytest.mark.parametrize("model, guide, objective", PAIRINGS, ids=["-".join(p) for p in PAIRINGS])
def test_each_pairing_trains_or_is_refused_with_its_reason(corpora, model, guide, objective):
    try:
        check_combination(guide_class(model, guide), objective)
    except ValueError as e:
        assert f"the {guide} guide cannot be trained with the {objective} objective: " in str(e)
        assert len(str(e).split(": ", 1)[1]) > 20  # a reason, not just a refusal
        return
    sentences = model in SENTENCE_MODELS
    data = corpora["sentences" if sentences else "documents"]
    sizes = {"embedding_dim": 8, "hidden_dim": 8} if sentences else {"hidden_sizes": [8]}
    config = TrainConfig(
        model=model,
        guide=guide,
        objective=objective,
        latent_dim=3,
        num_particles=2,
        model_kwargs=sizes if sentences else {},
        guide_kwargs={} if guide == "none" else sizes,
    )
    m, g = build(config, data.train.vocab_size)
    optimizer = make_optimizer([*m.parameters(), *g.parameters()], config)
    loss_fn = make_objective(objective, 2, 0.5)(m, g)  # the module form
    args = data.train.make_batch(list(range(8)))
    losses = [optimizer_step(loss_fn, optimizer, args, 1.0, None) for _ in range(2)]
    assert all(map(math.isfinite, losses))
