import math

import pyro.distributions as dist
import pytest
import torch

from ppl_vae.distributions import BagOfWords


def test_log_prob_is_sum_of_counts_times_log_probs_without_coefficient():
    logits = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    x = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    p = torch.softmax(logits, -1)
    by_hand = torch.tensor([2 * math.log(p[0, 0]) + math.log(p[0, 2]), 3 * math.log(1 / 3)])
    got = BagOfWords(logits).log_prob(x)
    assert torch.allclose(got, by_hand, atol=1e-6)
    # Multinomial adds log(N! / prod x_v!): log 3 for [2, 0, 1] and log 6 for [1, 1, 1]
    mult = dist.Multinomial(3, logits=logits).log_prob(x)
    assert torch.allclose(mult - got, torch.tensor([math.log(3), math.log(6)]), atol=1e-5)


def test_sample_has_requested_lengths_and_frequencies():
    torch.manual_seed(0)
    d = BagOfWords(
        torch.tensor([0.0, 1.0, 2.0]).expand(2000, 3), total_count=torch.full((2000,), 7)
    )
    x = d.sample()
    assert x.shape == (2000, 3) and (x.sum(-1) == 7).all()
    assert torch.allclose(x.mean(0) / 7, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0), atol=0.02)


def test_validation_rejects_non_counts():
    with pytest.raises(ValueError):
        BagOfWords(torch.zeros(3), validate_args=True).log_prob(torch.tensor([0.5, 1.0, 0.0]))


def test_word_categorical_matches_categorical_in_value_and_gradient():
    from ppl_vae.distributions import WordCategorical

    torch.manual_seed(0)
    logits = torch.randn(4, 6, 11, requires_grad=True)
    tokens = torch.randint(0, 11, (4, 6))
    ours = WordCategorical(logits).log_prob(tokens)
    theirs = torch.distributions.Categorical(logits=logits).log_prob(tokens)
    assert torch.allclose(ours, theirs, atol=1e-6)
    (g_ours,) = torch.autograd.grad(ours.sum(), logits)
    (g_theirs,) = torch.autograd.grad(theirs.sum(), logits)
    assert torch.allclose(g_ours, g_theirs, atol=1e-6)


def test_word_categorical_broadcasts_expands_samples_and_validates():
    from ppl_vae.distributions import WordCategorical

    torch.manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    d = WordCategorical(logits)
    assert d.batch_shape == (1,) and d.event_shape == ()
    values = torch.tensor([[0], [2]])  # (2, 1) against batch (1,): broadcasts to (2, 1)
    assert torch.allclose(d.log_prob(values).squeeze(-1), torch.log_softmax(logits, -1)[0, [0, 2]])
    e = d.expand((5,))
    assert e.batch_shape == (5,) and e.log_prob(torch.full((5,), 1)).shape == (5,)
    draws = d.sample((20000,))
    freq = torch.bincount(draws.flatten(), minlength=3).double() / draws.numel()
    assert torch.allclose(freq, torch.softmax(logits[0], -1).double(), atol=0.015)
    with pytest.raises(ValueError):
        WordCategorical(logits, validate_args=True).log_prob(torch.tensor([3]))
