"""Sparse (CSR) and dense input to the document encoders: the same outputs and gradients."""

import pytest
import torch
from torch import nn

from ppl_vae.config import TrainConfig
from ppl_vae.ops.count_input import (
    CountMLP,
    choose_sparse_input,
    count_mlps,
    set_sparse_input,
    sparse_linear,
)
from ppl_vae.runs import preset
from ppl_vae.runs.registry import GUIDE_CLASSES, build
from ppl_vae.training import CHECKPOINT, train
from ppl_vae.training.checkpoint import load_checkpoint

#: every guide of a bag-of-words model (the score-function guide's NVIL baseline included)
DOCUMENT_GUIDES = sorted(
    name for name, cls in GUIDE_CLASSES.items() if {"nvdm", "sbn", "lda"} & set(cls.fits)
)


def counts(batch=12, vocab=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.poisson(torch.full((batch, vocab), 0.3), generator=g)
    x[3] = 0  # an empty document: a row with no entries at all
    x[5, 7] = 40.0  # a word repeated many times
    return x


@pytest.mark.parametrize("transform", ["log1p", "counts"])
def test_sparse_linear_equals_the_dense_layer_with_its_gradients(transform):
    torch.manual_seed(0)
    layer, x = nn.Linear(40, 9), counts()
    upstream = torch.randn(12, 9)
    dense = layer(torch.log1p(x) if transform == "log1p" else x)
    (dense * upstream).sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    sparse = sparse_linear(x, layer, transform)
    (sparse * upstream).sum().backward()
    torch.testing.assert_close(sparse, dense, rtol=1e-5, atol=1e-5)
    for p, g in zip(layer.parameters(), grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DOCUMENT_GUIDES)
def test_every_document_guide_gives_the_same_outputs_and_gradients_sparse(name):
    model_name = next(m for m in ("nvdm", "sbn", "lda") if m in GUIDE_CLASSES[name].fits)
    config = preset(model_name, name, latent_dim=3, guide_kwargs={"hidden_sizes": [16, 8]})
    torch.manual_seed(0)
    _, guide = build(config, 40)
    mlps = count_mlps(guide)
    assert mlps and all(not m.sparse for m in mlps)
    x = counts()
    results = []
    for on in (False, True):
        set_sparse_input(on, guide)
        guide.zero_grad()
        outputs = [m(x) for m in mlps]  # the encoder body, and the NVIL baseline where present
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outputs).backward()
        grads = [p.grad.clone() for m in mlps for p in m.parameters()]
        results.append((outputs, grads))
    (dense_out, dense_grad), (sparse_out, sparse_grad) = results
    for a, b in zip(sparse_out + sparse_grad, dense_out + dense_grad):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_the_diagonal_guides_q_is_the_same_sparse():
    torch.manual_seed(0)
    _, guide = build(TrainConfig(latent_dim=3, guide_kwargs={"hidden_sizes": [16]}), 40)
    x = counts()
    dense = guide.encode(x)
    set_sparse_input(True, guide)
    sparse = guide.encode(x)
    for a, b in zip(sparse, dense):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_body_without_layers_is_the_transform_alone():
    body = CountMLP([40], "log1p")
    body.sparse = True
    torch.testing.assert_close(body(counts()), torch.log1p(counts()))


def test_choosing_times_both_ways_and_leaves_the_gradients_alone():
    torch.manual_seed(0)
    _, guide = build(TrainConfig(latent_dim=3, guide_kwargs={"hidden_sizes": [16]}), 40)
    first = count_mlps(guide)[0][0]
    first.weight.grad = torch.ones_like(first.weight)
    choice = choose_sparse_input(counts(), guide, rounds=3)
    assert isinstance(choice, bool)
    assert torch.equal(first.weight.grad, torch.ones_like(first.weight)) and first.bias.grad is None
    assert choose_sparse_input(counts(), nn.Linear(40, 3)) is None  # nothing to choose for


def test_the_trainer_saves_its_measured_choice_and_a_resumed_run_keeps_it(tmp_path, tiny_corpus):
    def run(config, resume=False):
        model, guide = build(config, tiny_corpus.train.vocab_size)
        train(model, guide, tiny_corpus.train, None, config, tmp_path, resume, progress=False)
        return guide

    config = TrainConfig(latent_dim=3, guide_kwargs={"hidden_sizes": [16]}, epochs=1,
                         batch_size=32, seed=0)  # fmt: skip
    guide = run(config)
    assert isinstance(config.sparse_input, bool)  # measured: no longer None
    saved = load_checkpoint(tmp_path / CHECKPOINT)["config"]
    assert saved["sparse_input"] is config.sparse_input
    assert all(m.sparse is config.sparse_input for m in count_mlps(guide))
    for held in (True, False):  # a resumed run takes the saved path, without measuring again
        resumed = TrainConfig.from_dict({**saved, "epochs": 2, "sparse_input": held})
        guide = run(resumed, resume=True)
        assert resumed.sparse_input is held and all(m.sparse is held for m in count_mlps(guide))
    older = TrainConfig.from_dict({**saved, "epochs": 3, "sparse_input": None})
    guide = run(older, resume=True)  # saved before the choice existed: trained dense
    assert older.sparse_input is False and not any(m.sparse for m in count_mlps(guide))
