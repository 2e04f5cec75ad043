"""The Replicated Softmax: energy, free energy and partition function against brute force, the
conditionals, and the Pyro model with its exact conditional as guide."""

import itertools
import math

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.guides import RSMConditionalGuide
from ppl_vae.models import ReplicatedSoftmax


def random_rsm(vocab: int, hidden: int, seed: int = 0, scale: float = 1.0) -> ReplicatedSoftmax:
    torch.manual_seed(seed)
    model = ReplicatedSoftmax(vocab, hidden)
    with torch.no_grad():
        model.weight.normal_(0.0, scale)
        model.visible_bias.normal_(0.0, 1.0)
        model.hidden_bias.normal_(0.0, 0.5)
    return model.double()


def hidden_states(h: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=h)), dtype=torch.float64)


def test_free_energy_is_minus_log_sum_over_hidden_states_of_exp_minus_energy():
    model = random_rsm(5, 3)
    x = torch.tensor([[2.0, 0, 1, 0, 4], [0, 1.0, 0, 0, 0], [1.0, 1, 1, 1, 1]], dtype=torch.float64)
    zs = hidden_states(3)
    for row in x:
        energies = torch.stack([model.energy(row[None], z[None])[0] for z in zs])
        brute = -torch.logsumexp(-energies, 0)
        assert model.free_energy(row[None])[0].item() == pytest.approx(brute.item(), abs=1e-10)


def test_energy_by_hand():
    model = random_rsm(3, 2)
    x = torch.tensor([[1.0, 0.0, 2.0]], dtype=torch.float64)
    z = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    w, b, a = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    hand = -(w[0, 0] + 2 * w[2, 0]) - (b[0] + 2 * b[2]) - 3 * a[0]
    assert model.energy(x, z).item() == pytest.approx(hand.item(), abs=1e-12)


@pytest.mark.parametrize("length", [1, 2, 3], ids=lambda n: f"N={n}")
def test_exact_log_partition_sums_over_every_word_sequence_and_hidden_state(length):
    vocab, hidden = 3, 2
    model = random_rsm(vocab, hidden, seed=length)
    total = []
    for words in itertools.product(range(vocab), repeat=length):  # ordered sequences
        x = torch.zeros(1, vocab, dtype=torch.float64)
        for w in words:
            x[0, w] += 1
        for z in hidden_states(hidden):
            total.append(-model.energy(x, z[None])[0])
    brute = torch.logsumexp(torch.stack(total), 0).item()
    assert model.exact_log_partition([length])[length] == pytest.approx(brute, abs=1e-10)


def test_probabilities_of_all_count_vectors_of_a_length_sum_to_one():
    vocab, length = 4, 3
    model = random_rsm(vocab, 3, seed=4)
    model.set_log_partition(model.exact_log_partition([length]))
    total = 0.0
    for counts in itertools.product(range(length + 1), repeat=vocab):
        if sum(counts) != length:
            continue
        x = torch.tensor([counts], dtype=torch.float64)
        orders = math.factorial(length) / math.prod(math.factorial(c) for c in counts)
        total += orders * model.log_likelihood(x).exp().item()  # P(x) is per word sequence
    assert total == pytest.approx(1.0, abs=1e-10)


def test_exact_log_partition_is_refused_for_many_hidden_units():
    with pytest.raises(ValueError, match="AIS"):
        ReplicatedSoftmax(5, 21).exact_log_partition([3])


def test_conditionals_are_the_lectures_networks():
    model = random_rsm(6, 4, seed=2)
    x = torch.tensor([[3.0, 0, 1, 0, 0, 2]], dtype=torch.float64)
    # P(z | x): the energy's difference between z_j = 1 and z_j = 0, all else equal
    z0 = torch.zeros(1, 4, dtype=torch.float64)
    for j in range(4):
        z1 = z0.clone()
        z1[0, j] = 1
        logit = (model.energy(x, z0) - model.energy(x, z1)).item()
        expected = torch.sigmoid(torch.tensor(logit)).item()
        assert model.hidden_probs(x)[0, j].item() == pytest.approx(expected)
    # P(x | z): N words from softmax(b + W z)
    torch.manual_seed(0)
    z = torch.tensor([[1.0, 0, 1, 0]], dtype=torch.float64).expand(4000, -1)
    counts = model.sample_visible(z, torch.full((4000,), 5.0, dtype=torch.float64))
    assert (counts.sum(-1) == 5).all()
    probs = torch.softmax(model.visible_logits(z[:1]), -1)[0]
    torch.testing.assert_close(counts.mean(0) / 5, probs, atol=0.01, rtol=0)


def test_with_its_exact_conditional_as_guide_the_elbo_is_log_p_x_exactly():
    model = random_rsm(6, 4, seed=3)
    guide = RSMConditionalGuide(model=model)
    x = torch.tensor([[3.0, 0, 1, 0, 0, 2], [0, 1.0, 0, 0, 0, 0], [1.0, 1, 1, 1, 1, 1]],
                     dtype=torch.float64)  # fmt: skip
    model.set_log_partition(model.exact_log_partition([6, 1]))
    expected = -model.log_likelihood(x).sum().item()
    for seed in range(3):  # every draw of z gives the same log p(x, z) - log q(z | x)
        pyro.set_rng_seed(seed)
        loss = Trace_ELBO().loss(model, guide, x)
        assert loss == pytest.approx(expected, abs=1e-9)


def test_the_model_refuses_lengths_without_log_z_and_names_the_cure():
    model = random_rsm(4, 2)
    with pytest.raises(ValueError, match="set_log_partition"):
        poutine.trace(model).get_trace(torch.ones(1, 4, dtype=torch.float64))


def test_predictive_generates_documents_of_the_asked_lengths():
    model = ReplicatedSoftmax(7, 3, gibbs_steps=5)
    out = pyro.infer.Predictive(model, num_samples=2)(None, lengths=[4, 0, 9])["x"]
    assert out.shape == (2, 3, 7) and out.sum(-1).tolist() == [[4, 0, 9]] * 2


def test_persistent_chains_are_a_buffer_saved_with_the_weights():
    model = ReplicatedSoftmax(5, 3, persistent_chains=8)
    assert model.persistent_chains == 8 and "chains" in model.state_dict()
    assert all(name != "chains" for name, _ in model.named_parameters())
