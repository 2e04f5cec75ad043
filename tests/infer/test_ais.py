"""Annealed importance sampling of the Replicated Softmax's log Z_N against exact enumeration."""

import numpy as np
import pytest
import torch

from ppl_vae.infer.ais import PartitionEstimate, ais_log_partition, schedule
from ppl_vae.models import ReplicatedSoftmax


def small_rsm(vocab: int, hidden: int, seed: int) -> ReplicatedSoftmax:
    torch.manual_seed(seed)
    model = ReplicatedSoftmax(vocab, hidden)
    with torch.no_grad():
        model.weight.normal_(0.0, 1.0)
        model.visible_bias.normal_(0.0, 1.0)
        model.hidden_bias.normal_(0.0, 0.5)
    return model


LENGTHS = [1, 2, 3, 5, 8, 13, 40]


def ais_errors(model, steps: int, seed: int) -> np.ndarray:
    exact = model.exact_log_partition(LENGTHS)
    torch.manual_seed(seed)
    est = ais_log_partition(model, max(LENGTHS), num_runs=100, steps=steps)
    return est.log_z(LENGTHS) - np.array([exact[n] for n in LENGTHS])


@pytest.mark.parametrize(("vocab", "hidden"), [(5, 6), (4, 12)], ids=["V5-H6", "V4-H12"])
def test_ais_is_within_005_nats_of_exact_log_z_with_the_default_schedule(vocab, hidden):
    model = small_rsm(vocab, hidden, seed=hidden)
    errors = ais_errors(model, steps=1000, seed=0)
    assert np.abs(errors).max() < 0.05, errors


def test_ais_improves_as_the_number_of_temperatures_grows():
    model = small_rsm(5, 8, seed=1)
    mean_abs = {
        steps: np.mean([np.abs(ais_errors(model, steps, seed)).mean() for seed in range(3)])
        for steps in (2, 30, 1000)
    }
    assert mean_abs[2] > mean_abs[30] > mean_abs[1000], mean_abs
    assert mean_abs[1000] < 0.02


def test_the_schedule_reaches_every_length_and_thins_as_words_accrue():
    path = schedule(5, steps=12)
    assert [n for n, s in path if s == 1.0] == [0, 1, 2, 3, 4]  # each word's end, in order
    assert [sum(1 for m, _ in path if m == n) for n in range(5)] == [12, 12, 6, 4, 3]
    assert all(0 < s <= 1 for _, s in path)


def test_estimates_report_their_spread_and_refuse_lengths_off_the_path():
    runs = np.log(np.array([[1.0, 3.0], [2.0, 2.0]]))  # lengths 1 and 2, two runs each
    est = PartitionEstimate(runs, num_temperatures=10, steps=5)
    np.testing.assert_allclose(est.log_z([1, 2]), np.log([2.0, 2.0]))
    assert est.spread([2])[0] == 0.0 and est.spread([1])[0] > 0
    assert est.table([2, 1, 2]) == {1: pytest.approx(np.log(2)), 2: pytest.approx(np.log(2))}
    with pytest.raises(ValueError, match="outside the AIS path"):
        est.log_z([3])
