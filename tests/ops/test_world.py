"""One process's view of the distributed helpers (the two-process behaviour is tested in
tests/training/test_distributed.py)."""

import torch

from ppl_vae.ops.world import World, all_sum, batch_seed, broadcast, map_batches, world


def test_one_process_is_rank_zero_of_one():
    assert world() == World(0, 1) and world().main and not world().distributed
    assert all_sum([1.5, 2.0]) == [1.5, 2.0] and broadcast({"a": 1}) == {"a": 1}


def test_a_batchs_draws_depend_on_its_index_and_the_seed_only():
    """So sharing the batches out over ranks cannot change them."""
    draws = map_batches(lambda b: torch.randn(3) + b, range(4), seed=7)
    again = map_batches(lambda b: torch.randn(3) + b, range(4), seed=7)
    for i, d in enumerate(draws):
        torch.manual_seed(batch_seed(7, i))
        assert torch.equal(d, torch.randn(3) + i) and torch.equal(d, again[i])
    assert not torch.equal(draws[0], draws[1] - 1)  # each batch its own stream
    other = map_batches(lambda b: torch.randn(3), range(1), seed=8)
    assert not torch.equal(other[0], draws[0])


def test_the_callers_stream_is_left_as_it_was():
    torch.manual_seed(0)
    expected = torch.randn(2)
    torch.manual_seed(0)
    map_batches(lambda b: torch.randn(5), range(3), seed=1)
    assert torch.equal(torch.randn(2), expected)
