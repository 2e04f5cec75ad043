"""The command line's thread rule: never oversubscribe a shared machine by default."""

import pytest
import torch

from ppl_vae.ops import threads
from ppl_vae.ops.threads import choose_threads


@pytest.fixture(autouse=True)
def no_omp(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_an_explicit_count_wins():
    assert choose_threads(3, large_network=False) == 3


def test_omp_num_threads_is_left_to_torch(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert choose_threads(None, large_network=True) is None


def test_small_networks_take_one_thread():
    assert choose_threads(None, large_network=False) == 1


@pytest.mark.parametrize("load, expected", [(0.1, "all"), (1.5, 1)], ids=["quiet", "busy"])
def test_large_networks_take_every_core_unless_the_machine_is_busy(monkeypatch, load, expected):
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    got = choose_threads(None, large_network=True)
    assert got == (torch.get_num_threads() if expected == "all" else 1)
