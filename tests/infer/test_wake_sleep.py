import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI

from ppl_vae.evaluation import estimate_items
from ppl_vae.guides import BernoulliGuide, DiagonalGaussianGuide
from ppl_vae.infer.wake_sleep import ReweightedWakeSleep, SiteMismatchError, WakeSleep, sleep_loss
from ppl_vae.models import NVDM, SigmoidBeliefNetwork

PAIRS = {
    "nvdm": lambda: (NVDM(12, 3), DiagonalGaussianGuide(12, 3, hidden_sizes=(16,))),
    "sbn": lambda: (SigmoidBeliefNetwork(12, 3), BernoulliGuide(12, 3, hidden_sizes=(16,))),
}


def batch():
    torch.manual_seed(0)
    return torch.distributions.Multinomial(15, logits=torch.randn(16, 12)).sample()


def mean_sleep_loss(model, guide, x, draws=30):
    pyro.set_rng_seed(123)
    with torch.no_grad():
        return sum(float(sleep_loss(model, guide, (x,), {}, {"x"})) for _ in range(draws)) / draws


@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
def test_wake_sleep_steps_decrease_the_sleep_loss_on_a_fixed_batch(pair):
    model, guide = PAIRS[pair]()
    x = batch()
    before = mean_sleep_loss(model, guide, x)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), WakeSleep())
    for _ in range(40):
        svi.step(x)
    assert mean_sleep_loss(model, guide, x) < before - 0.02 * abs(before)


@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
def test_rws_bound_is_the_per_datapoint_importance_weighted_bound(pair):
    model, guide = PAIRS[pair]()
    x = batch()
    pyro.set_rng_seed(7)
    loss = ReweightedWakeSleep(num_particles=6).loss(model, guide, x)
    pyro.set_rng_seed(7)
    est = estimate_items(model, guide, [((x,), x.sum(-1))], num_samples=6)
    assert loss == pytest.approx(-est.log_px.sum(), rel=1e-5)


@pytest.mark.parametrize(
    "objective", [WakeSleep(), ReweightedWakeSleep(3)], ids=["wake-sleep", "rws"]
)
def test_mismatched_guide_is_a_clear_error(objective):
    model = NVDM(12, 3)

    def wrong_guide(x, annealing_factor=1.0):
        with pyro.plate("documents", x.shape[0]):
            pyro.sample("w", dist.Normal(torch.zeros(x.shape[0], 3), 1.0).to_event(1))

    with pytest.raises(
        SiteMismatchError,
        match=r"does not sample the model's latent site\(s\) "
        r"\['z'\].*samples \['w'\]",
    ):
        objective.loss_and_grads(model, wrong_guide, batch())


def test_wake_sleep_refuses_annealing():
    model, guide = PAIRS["nvdm"]()
    with pytest.raises(ValueError, match="do not take KL annealing"):
        WakeSleep().loss_and_grads(model, guide, batch(), annealing_factor=0.5)


def test_wake_phase_gives_the_model_no_guide_gradient():
    model, guide = PAIRS["nvdm"]()
    x = batch()
    WakeSleep(sleep_particles=0).loss_and_grads(model, guide, x)
    assert model.decoder.weight.grad is not None
    assert all(p.grad is None for p in guide.parameters())
