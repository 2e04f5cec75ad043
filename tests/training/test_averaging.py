import pytest
import torch

from ppl_vae.training.averaging import ParameterAverage


def test_average_follows_the_update_rule_and_swaps_back():
    m = torch.nn.Linear(2, 1)
    start = [p.detach().clone() for p in m.parameters()]
    avg = ParameterAverage([m], decay=0.9)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    avg.update()
    avg.update()
    live = [p.detach().clone() for p in m.parameters()]
    # warm-up: d_0 = min(0.9, 1/10) = 0.1, d_1 = min(0.9, 2/11); a <- d a + (1 - d)(s + 1)
    expected = [s + (1 - 0.1 * (2 / 11)) * 1.0 for s in start]
    with avg.applied():
        assert all(torch.allclose(p, e) for p, e in zip(m.parameters(), expected))
    assert all(torch.equal(p, v) for p, v in zip(m.parameters(), live))
    restored = ParameterAverage([torch.nn.Linear(2, 1)], decay=0.9)
    restored.load_state(avg.state())
    assert all(torch.equal(a, b) for a, b in zip(restored.shadow[0], avg.shadow[0]))
    assert restored.updates == 2


def test_warm_up_reaches_the_final_decay():
    avg = ParameterAverage([torch.nn.Linear(1, 1)], decay=0.999)
    avg.updates = 20_000
    assert min(avg.decay, (1 + avg.updates) / (10 + avg.updates)) == 0.999


def test_decay_must_be_a_fraction():
    with pytest.raises(ValueError):
        ParameterAverage([torch.nn.Linear(1, 1)], decay=1.0)


def test_state_dicts_load_into_modules_with_buffers():
    module = torch.nn.BatchNorm1d(3)  # weight and bias are averaged; running stats are buffers
    average = ParameterAverage([module], 0.9)
    with torch.no_grad():
        module.weight.add_(1.0)
        module.running_mean.add_(2.0)
    average.update()
    (state,) = average.state_dicts()
    assert set(state) == set(module.state_dict())
    fresh = torch.nn.BatchNorm1d(3)
    fresh.load_state_dict(state)  # strict: nothing missing
    assert torch.equal(fresh.running_mean, module.running_mean)
    assert torch.equal(fresh.weight, average.shadow[0][0])
