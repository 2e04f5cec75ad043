import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, RenyiELBO, Trace_ELBO

from ppl_vae.evaluation import SiteOutsidePlateError
from ppl_vae.guides import BernoulliGuide, DiagonalGaussianGuide, LSTMEncoderGuide
from ppl_vae.guides.bilstm_encoder import BiLSTMEncoderGuide
from ppl_vae.guides.mean_pool_encoder import MeanPoolEncoderGuide
from ppl_vae.infer.iwae import IWAE, check_iwae, check_sites_in_plate
from ppl_vae.infer.objectives import ANNEALABLE, OBJECTIVES, make_objective
from ppl_vae.models import NVDM, SentenceVAE, SigmoidBeliefNetwork

TOKENS = torch.tensor([[4, 5, 6, 2], [7, 2, 0, 0], [8, 9, 2, 0]])
LENGTHS = torch.tensor([4, 2, 3])


def nvdm_pair(batch=6):
    torch.manual_seed(0)
    model, guide = NVDM(8, 2), DiagonalGaussianGuide(8, 2, hidden_sizes=(8,))
    with torch.no_grad():  # a decoder that uses z, and a guide that is not its posterior
        model.decoder.weight.mul_(4.0)
        guide.loc.bias.fill_(0.7)
    x = torch.randint(0, 4, (batch, 8)).float()
    return model, guide, x


def global_model(x):
    """NVDM-like, plus a global latent ``"w"`` outside the data plate."""
    w = pyro.sample("w", dist.Normal(0.0, 1.0))
    with pyro.plate("documents", x.shape[0]):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0]), 1.0))
        loc = (z + w).unsqueeze(-1).expand(x.shape)
        pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)


def global_guide(x):
    pyro.sample("w", dist.Normal(0.3, 0.5))
    with pyro.plate("documents", x.shape[0]):
        pyro.sample("z", dist.Normal(x.mean(-1), 0.8))


def log_weights(model, guide, *args, seed, particles):
    """``(K, B)`` per-item ``log p(x, z_k) - log q(z_k | x)``, drawn as RenyiELBO draws them."""
    pyro.set_rng_seed(seed)
    rows = []
    with torch.no_grad():
        for _ in range(particles):
            g = poutine.trace(guide).get_trace(*args)
            m = poutine.trace(poutine.replay(model, trace=g)).get_trace(*args)
            m.compute_log_prob()
            g.compute_log_prob()
            row = sum(s["log_prob"] for s in m.nodes.values() if s["type"] == "sample")
            rows.append(row - sum(s["log_prob"] for s in g.nodes.values() if s["type"] == "sample"))
    return torch.stack([torch.broadcast_to(r, rows[0].shape) for r in rows]).double()


def log_mean_exp(t, dim=0):
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


# --- the objective by name ---


def test_make_objective_gives_renyi_alpha_zero_with_k_particles():
    objective = make_objective("iwae", num_particles=7)
    assert isinstance(objective, RenyiELBO) and isinstance(objective, IWAE)
    assert objective.alpha == 0 and objective.num_particles == 7
    assert not objective.vectorize_particles
    assert make_objective("iwae", 3, vectorize_particles=True).vectorize_particles
    assert "iwae" in OBJECTIVES and "iwae" not in ANNEALABLE


@pytest.mark.parametrize("k", [0, -2], ids=["K=0", "K=-2"])
def test_fewer_than_one_particle_is_refused(k):
    with pytest.raises(ValueError, match="num_particles >= 1"):
        make_objective("iwae", num_particles=k)


@pytest.mark.parametrize("beta", [0.0, 0.5], ids=["beta=0", "beta=0.5"])
def test_kl_annealing_is_refused(beta):
    model, guide, x = nvdm_pair()
    objective = make_objective("iwae", 2)
    with pytest.raises(ValueError, match="annealing"):
        objective.loss(model, guide, x, annealing_factor=beta)
    with pytest.raises(ValueError, match="annealing"):
        objective.loss_and_grads(model, guide, x, annealing_factor=beta)
    assert objective.loss(model, guide, x, annealing_factor=1.0) > 0  # beta = 1 is no annealing


# --- (a) K = 1 is the ELBO ---


@pytest.mark.parametrize(
    "iwae",
    [lambda: RenyiELBO(alpha=0, num_particles=1), lambda: make_objective("iwae", 1)],
    ids=["RenyiELBO", "make_objective"],
)
def test_one_particle_is_the_elbo_loss_and_gradient(iwae):
    model, guide, x = nvdm_pair()
    pyro.set_rng_seed(3)
    elbo = Trace_ELBO().loss_and_grads(model, guide, x)
    elbo_grads = [p.grad.clone() for p in [*model.parameters(), *guide.parameters()]]
    model.zero_grad()
    guide.zero_grad()
    pyro.set_rng_seed(3)
    bound = iwae().loss_and_grads(model, guide, x)
    assert bound == pytest.approx(elbo, rel=1e-6)
    for p, g in zip([*model.parameters(), *guide.parameters()], elbo_grads):
        assert torch.allclose(p.grad, g, rtol=1e-5, atol=1e-6)
    for seed in range(5):
        pyro.set_rng_seed(seed)
        a = iwae().loss(model, guide, x)
        pyro.set_rng_seed(seed)
        assert a == pytest.approx(Trace_ELBO().loss(model, guide, x), rel=1e-6)


# --- (b) the bound rises with K ---


def test_the_bound_rises_with_the_number_of_particles():
    model, guide, x = nvdm_pair()
    pyro.set_rng_seed(0)
    repeats, stats = 200, {}
    for k in (1, 5, 50):
        objective = IWAE(k, vectorize_particles=True, max_plate_nesting=1)
        bounds = np.array([-objective.loss(model, guide, x) for _ in range(repeats)])
        stats[k] = (bounds.mean(), bounds.std(ddof=1) / math.sqrt(repeats))
    for small, large in [(1, 5), (5, 50)]:
        gain = stats[large][0] - stats[small][0]
        se = math.hypot(stats[large][1], stats[small][1])
        assert gain > 5 * se, (small, large, stats)


# --- (c) per datapoint ---


@pytest.mark.parametrize("k", [1, 4], ids=["K=1", "K=4"])
def test_the_bound_is_a_sum_of_per_datapoint_bounds(k):
    model, guide, x = nvdm_pair()
    w = log_weights(model, guide, x, seed=11, particles=k)  # (K, B)
    assert w.shape == (k, x.shape[0])
    per_item = log_mean_exp(w)  # each document's own IWAE estimate
    pyro.set_rng_seed(11)
    loss = RenyiELBO(alpha=0, num_particles=k).loss(model, guide, x)
    assert -loss == pytest.approx(float(per_item.sum()), rel=1e-5)
    if k > 1:  # not the same as one weight per particle for the whole batch
        joint = log_mean_exp(w.sum(1))
        assert abs(float(per_item.sum() - joint)) > 1e-2


def test_per_datapoint_weights_beat_joint_batch_weights_on_average():
    """E[sum_b log mean_k w_kb] >= E[log mean_k prod_b w_kb]: the per-datapoint bound is
    tighter than weighting the batch jointly."""
    model, guide, x = nvdm_pair()
    w = log_weights(model, guide, x, seed=5, particles=200 * 5).reshape(200, 5, -1)
    per_item = log_mean_exp(w, dim=1).sum(-1)  # (200,)
    joint = log_mean_exp(w.sum(-1), dim=1)
    diff = (per_item - joint).numpy()
    assert diff.mean() > 5 * diff.std(ddof=1) / math.sqrt(len(diff)) > 0


def test_a_site_outside_the_plate_makes_renyi_weight_the_batch_jointly():
    x = torch.randn(5, 3)
    pyro.set_rng_seed(2)
    loss = RenyiELBO(alpha=0, num_particles=4).loss(global_model, global_guide, x)
    pyro.set_rng_seed(2)
    joint = []  # one weight per particle for the whole batch
    with torch.no_grad():
        for _ in range(4):
            g = poutine.trace(global_guide).get_trace(x)
            m = poutine.trace(poutine.replay(global_model, trace=g)).get_trace(x)
            joint.append(m.log_prob_sum() - g.log_prob_sum())
    assert -loss == pytest.approx(float(log_mean_exp(torch.stack(joint))), rel=1e-5)


# --- (d) the checks ---


def test_a_global_sample_site_is_named_by_the_check():
    x = torch.randn(5, 3)
    with pytest.raises(SiteOutsidePlateError, match="'w' of the model") as err:
        check_sites_in_plate(global_model, global_guide, (x,))
    assert isinstance(err.value, ValueError) and "documents" in str(err.value)
    with pytest.raises(ValueError, match="'w'"):
        check_iwae(global_model, global_guide, (x,), plate="documents")


def test_a_site_in_a_sequential_plate_only_is_refused():
    def model(x):
        for i in pyro.plate("documents", x.shape[0]):
            pyro.sample(f"x_{i}", dist.Normal(0.0, 1.0), obs=x[i, 0])

    with pytest.raises(SiteOutsidePlateError, match="'x_0'"):
        check_sites_in_plate(model, lambda x: None, (torch.randn(2, 3),), plate="documents")


@pytest.mark.parametrize(
    "guide_cls",
    [LSTMEncoderGuide, BiLSTMEncoderGuide, MeanPoolEncoderGuide],
    ids=["lstm", "bilstm", "mean-pool"],
)
def test_sentence_vae_and_its_guides_pass_and_train(guide_cls):
    model = SentenceVAE(12, latent_dim=3, embedding_dim=6, hidden_dim=8)
    guide = guide_cls(12, latent_dim=3, embedding_dim=6, hidden_dim=8)
    assert check_iwae(model, guide, (TOKENS, LENGTHS)) == "sentences"
    assert check_sites_in_plate(model, guide, (TOKENS, LENGTHS), plate="sentences") == "sentences"
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), make_objective("iwae", 3))
    losses = [svi.step(TOKENS, LENGTHS, annealing_factor=1.0) for _ in range(30)]
    assert np.isfinite(losses).all() and np.mean(losses[-5:]) < np.mean(losses[:5])


def test_nvdm_passes_and_the_check_leaves_the_random_stream_alone():
    model, guide, x = nvdm_pair()
    pyro.set_rng_seed(4)
    expected = torch.rand(3)
    pyro.set_rng_seed(4)
    assert check_iwae(model, guide, (x,)) == "documents"
    assert torch.equal(torch.rand(3), expected)


def test_a_non_reparameterized_guide_is_refused_because_renyi_gives_it_no_gradient():
    torch.manual_seed(0)
    model = SigmoidBeliefNetwork(6, 3)
    guide = BernoulliGuide(6, 3, hidden_sizes=(8,), baseline_hidden=0)
    x = torch.randint(0, 3, (4, 6)).float()
    RenyiELBO(alpha=0, num_particles=4).loss_and_grads(model, guide, x)
    assert all(p.grad is None or not p.grad.any() for p in guide.parameters())
    assert model.decoder.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="'z' of the guide is not reparameterizable"):
        check_iwae(model, guide, (x,))
    check_sites_in_plate(model, guide, (x,))  # its sites are in the plate, though


def test_scaled_sites_are_refused():
    model, guide, x = nvdm_pair()
    with pytest.raises(ValueError, match="'z' of the model is scaled"):
        check_iwae(model, guide, (x,), kwargs={"annealing_factor": 0.5})
