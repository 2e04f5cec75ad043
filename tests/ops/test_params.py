import copy

import pyro
import torch
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.ops.params import param_name


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def moved(before, module):
    return all(not torch.equal(b, p) for b, p in zip(before, module.parameters()))


def test_two_pairs_train_one_after_the_other_through_svi(tiny_corpus):
    """Without clearing the param store: the second pair is trained through its own weights,
    not the first pair's (with one fixed name per class, SVI stepped the first pair's tensors
    and the second guide never moved)."""
    V = tiny_corpus.train.vocab_size
    x = tiny_corpus.train.dense(range(64))
    for latent in (3, 5):
        model, guide = NVDM(V, latent), DiagonalGaussianGuide(V, latent, hidden_sizes=(16,))
        before_model, before_guide = weights(model), weights(guide)
        svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), TraceMeanField_ELBO())
        first = sum(svi.evaluate_loss(x) for _ in range(10)) / 10
        for _ in range(100):
            svi.step(x)
        last = sum(svi.evaluate_loss(x) for _ in range(10)) / 10
        assert last < first - 0.05 * abs(first)
        assert moved(before_model, model) and moved(before_guide, guide)
    assert len(pyro.get_param_store()) == 2 * (2 + 6)  # both pairs' own tensors


def test_each_instance_and_each_copy_has_its_own_name():
    a, b = NVDM(5, 2), NVDM(5, 2)
    names = {param_name(a, "nvdm"), param_name(b, "nvdm"), param_name(copy.deepcopy(a), "nvdm")}
    assert len(names) == 3 and all(n.startswith("nvdm") for n in names)
    assert param_name(a, "nvdm") == param_name(a, "nvdm")  # stable


def test_module_local_params_register_nothing():
    model, guide = NVDM(5, 2), DiagonalGaussianGuide(5, 2, hidden_sizes=(4,))
    x = torch.ones(3, 5)
    with pyro.settings.context(module_local_params=True):
        loss = TraceMeanField_ELBO()(model, guide)(x)
    loss.backward()
    assert len(pyro.get_param_store()) == 0
    assert all(p.grad is not None for p in [*model.parameters(), *guide.parameters()])
