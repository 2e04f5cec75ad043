import torch
from pyro import poutine

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
    model.init_from_corpus(torch.tensor([9.0, 0.0, 2.0]))
    assert torch.allclose(model.decoder.bias.exp(), torch.tensor([10.0, 1.0, 3.0]) / 14)
