"""Topics along latent directions: poles, and a varimax rotation that leaves p(x) unchanged."""

import math

import pytest
import torch

from ppl_vae.evaluation.topics import ranked_ids, top_words, varimax
from ppl_vae.models import NVDM


def test_ranked_ids_read_both_poles():
    w = torch.tensor([[3.0, -1.0], [1.0, 2.0], [-2.0, 0.0]])
    assert ranked_ids(w, 2) == [[0, 1], [1, 2]]
    assert ranked_ids(w, 2, pole=-1) == [[2, 1], [0, 2]]
    assert top_words(w, ["a", "b", "c"], 1) == [["a"], ["b"]]


def varimax_criterion(w):
    return float(w.pow(4).sum(0).sum() - w.pow(2).sum(0).pow(2).sum() / w.shape[0])


def test_varimax_is_an_orthogonal_rotation_that_simplifies_the_loadings():
    torch.manual_seed(0)
    simple = torch.zeros(36, 3)
    for k in range(3):  # each word loads on one direction; columns sum to 0 (centered)
        size = torch.rand(6) + 1
        simple[k * 12 : (k + 1) * 12, k] = torch.cat([size, -size])
    q0 = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))[0].float()
    mixed = simple @ q0  # the same loadings, rotated out of alignment
    rotated, q = varimax(mixed)
    torch.testing.assert_close(q.T @ q, torch.eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(rotated, mixed @ q)
    centered = lambda w: w - w.mean(0)  # noqa: E731
    assert varimax_criterion(centered(rotated)) > varimax_criterion(centered(mixed)) + 1
    # the simple structure comes back: every word loads mostly on one direction
    share = rotated.pow(2).max(1).values / rotated.pow(2).sum(1)
    assert share.min() > 0.9


def test_the_rotated_decoder_has_the_same_marginal_likelihood():
    """Under z ~ N(0, I), p(x) = E_z p(x | Rz + b) = E_z' p(x | RQ z' + b) with z' = Q^T z:
    every draw gives the same log p(x | z), and the prior density is rotation invariant, so
    any estimate of log p(x) with the matching draws is equal, not just close."""
    torch.manual_seed(0)
    model = NVDM(vocab_size=30, latent_dim=4)
    x = torch.poisson(torch.full((5, 30), 0.7))
    _, q = varimax(model.decoder.weight.detach())
    rotated = NVDM(vocab_size=30, latent_dim=4)
    rotated.load_state_dict(model.state_dict())
    with torch.no_grad():
        rotated.decoder.weight.copy_(model.decoder.weight @ q)
    z = torch.randn(2000, 1, 4)
    z_rot = z @ q  # z' = Q^T z, row by row

    def log_lik(m, zs):
        with torch.no_grad():
            logits = m.decoder(zs)
        return (x * torch.log_softmax(logits, -1)).sum(-1)  # (S, 5)

    prior = torch.distributions.Normal(0.0, 1.0)
    torch.testing.assert_close(log_lik(rotated, z_rot), log_lik(model, z), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(prior.log_prob(z_rot).sum(-1), prior.log_prob(z).sum(-1))
    # prior-sampled estimates with independent draws agree within their noise
    est = lambda m, zs: log_lik(m, zs).logsumexp(0) - math.log(len(zs))  # noqa: E731
    other = torch.randn(2000, 1, 4)
    assert est(rotated, other) == pytest.approx(est(model, z).tolist(), abs=0.5)
