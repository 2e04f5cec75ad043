import numpy as np
import pytest
import torch
from pyro import poutine

from ppl_vae.data import BowCorpus
from ppl_vae.models import NVDM


def test_trace_sites_and_likelihood_match_a_hand_computation():
    model = NVDM(vocab_size=5, latent_dim=2)
    x = torch.tensor([[1.0, 0.0, 3.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0, 0.0]])
    z = torch.tensor([[0.3, -1.2], [2.0, 0.5]])
    tr = poutine.trace(poutine.condition(model, data={"z": z})).get_trace(x)
    tr.compute_log_prob()
    assert tr.nodes["z"]["value"].shape == (2, 2)
    assert [f.name for f in tr.nodes["x"]["cond_indep_stack"]] == ["documents"]
    W, b = model.decoder.weight.detach(), model.decoder.bias.detach()
    logp = torch.log_softmax(z @ W.T + b, -1)
    by_hand = (x * logp).sum(-1)
    assert torch.allclose(tr.nodes["x"]["log_prob"], by_hand, atol=1e-5)
    prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(tr.nodes["z"]["log_prob"], prior)


def test_init_from_corpus_sets_background_frequencies():
    model = NVDM(vocab_size=3, latent_dim=2)
    corpus = BowCorpus(np.array([0, 1, 3]), np.array([0, 0, 2]), np.array([4.0, 5, 2]), "abc")
    model.init_from_corpus(corpus)
    assert torch.allclose(model.decoder.bias.exp(), torch.tensor([10.0, 1.0, 3.0]) / 14)


def test_predictive_generates_documents_of_the_given_lengths():
    from pyro.infer import Predictive

    model = NVDM(12, 3)
    samples = Predictive(model, num_samples=4)(None, lengths=[5, 30])
    assert samples["z"].shape == (4, 2, 3) and samples["x"].shape == (4, 2, 12)
    assert samples["x"].sum(-1).tolist() == [[5.0, 30.0]] * 4
    assert (samples["x"] >= 0).all() and (samples["x"] == samples["x"].round()).all()
    assert model(None, lengths=7).shape == (1, 3)  # called directly: one document of 7 words


def test_generation_needs_lengths_and_scoring_takes_none_of_them():
    model = NVDM(12, 3)
    with pytest.raises(ValueError, match="give their lengths"):
        model()
    with pytest.raises(ValueError, match="not both"):
        model(torch.ones(2, 12), lengths=[12, 12])


def test_a_mixture_prior_is_the_mixture_density_and_is_learned_without_weight_decay():
    from ppl_vae.config import TrainConfig
    from ppl_vae.training import make_optimizer

    torch.manual_seed(0)
    model = NVDM(vocab_size=6, latent_dim=3, prior_components=4)
    assert not model.standard_normal_prior and NVDM(6, 3).standard_normal_prior
    z = torch.randn(7, 3)
    log_w = torch.log_softmax(model.prior_logits, 0)
    comps = torch.distributions.Normal(model.prior_loc, model.prior_log_scale.exp())
    by_hand = (comps.log_prob(z[:, None]).sum(-1) + log_w).logsumexp(-1)
    prior = model.prior(7, z)
    assert prior.batch_shape == (7,) and prior.event_shape == (3,)
    torch.testing.assert_close(prior.log_prob(z), by_hand)
    tr = poutine.trace(model).get_trace(torch.ones(7, 6))
    assert tr.nodes["z"]["value"].shape == (7, 3)
    # the prior's parameters are trained (they get gradients) but not decayed
    tr.compute_log_prob()
    tr.nodes["z"]["log_prob_sum"].backward()
    assert model.prior_loc.grad.abs().sum() > 0 and model.prior_logits.grad.abs().sum() > 0
    optimizer = make_optimizer(list(model.parameters()), TrainConfig(weight_decay=0.05))
    decays = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decays[id(model.prior_loc)] == 0.0 and decays[id(model.decoder.weight)] == 0.05
    assert len(make_optimizer(list(NVDM(6, 3).parameters()), TrainConfig()).param_groups) == 1
    with pytest.raises(ValueError, match="prior_components"):
        NVDM(6, 3, prior_components=-1)
