import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn

az = pytest.importorskip("arviz")

from ppl_vae.evaluation.posterior import (  # noqa: E402
    compare_to_reference,
    guide_samples,
    khat_summary,
    log_weights,
    nuts_reference,
    pair_plot,
    psis_diagnostics,
    reference_summary,
    to_inference_data,
)
from ppl_vae.guides import DiagonalGaussianGuide  # noqa: E402
from ppl_vae.models import NVDM  # noqa: E402


class LinearGaussian(nn.Module):
    r"""``z ~ N(0, I_K)``, ``x ~ N(W z, sigma^2 I_D)`` per document: a conjugate model whose
    posterior ``N(Sigma W^T x / sigma^2, Sigma)``, ``Sigma = (I + W^T W / sigma^2)^{-1}``, and
    evidence ``N(x; 0, W W^T + sigma^2 I)`` are known in closed form."""

    def __init__(self, W: torch.Tensor, sigma: float) -> None:
        super().__init__()
        self.W = nn.Parameter(W)
        self.sigma = sigma

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> None:
        pyro.module("linear_gaussian", self)
        batch, K = x.shape[0], self.W.shape[1]
        with pyro.plate("documents", batch):
            with pyro.poutine.scale(scale=annealing_factor):
                z = pyro.sample("z", dist.Normal(x.new_zeros(batch, K), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ self.W.T, self.sigma).to_event(1), obs=x)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc (B, K), cov (K, K))`` of the exact posterior."""
        W = self.W.detach()
        cov = torch.linalg.inv(torch.eye(W.shape[1], dtype=W.dtype) + W.T @ W / self.sigma**2)
        return x @ W @ cov / self.sigma**2, cov

    def log_evidence(self, x: torch.Tensor) -> torch.Tensor:
        W = self.W.detach()
        cov = W @ W.T + self.sigma**2 * torch.eye(W.shape[0], dtype=W.dtype)
        return dist.MultivariateNormal(torch.zeros_like(x), cov).log_prob(x)


class GaussianGuide:
    """``q(z | x_d) = N(loc_d, L L^T)`` with fixed parameters."""

    def __init__(self, loc: torch.Tensor, scale_tril: torch.Tensor) -> None:
        self.loc, self.scale_tril = loc, scale_tril

    def __call__(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        with pyro.plate("documents", x.shape[0]):
            return pyro.sample("z", dist.MultivariateNormal(self.loc, scale_tril=self.scale_tril))


def conjugate_problem(docs: int, K: int = 2, D: int = 5, sigma: float = 0.5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(D, K, generator=g, dtype=torch.float64)
    model = LinearGaussian(W, sigma)
    z = torch.randn(docs, K, generator=g, dtype=torch.float64)
    x = z @ W.T + sigma * torch.randn(docs, D, generator=g, dtype=torch.float64)
    return model, x


def make_guide(model: LinearGaussian, x: torch.Tensor, kind: str) -> GaussianGuide:
    loc, cov = model.posterior(x)
    L = torch.linalg.cholesky(cov)
    if kind == "exact":
        return GaussianGuide(loc, L)
    if kind == "overdispersed":  # wider than the posterior: bounded weights
        return GaussianGuide(loc, 1.5 * L)
    if kind == "narrow-shifted":  # too narrow and off-centre: heavy-tailed weights
        return GaussianGuide(loc + 2.0 * cov.diagonal().sqrt(), 0.4 * L)
    raise ValueError(kind)


def test_exact_guide_weights_equal_the_evidence():
    model, x = conjugate_problem(docs=4)
    guide = make_guide(model, x, "exact")
    idata = to_inference_data(model, guide, (x,), num_samples=50, seed=1)
    lw = log_weights(idata)
    assert lw.shape == (50, 4)
    np.testing.assert_allclose(lw, model.log_evidence(x).numpy()[None].repeat(50, 0), atol=1e-9)
    # the stored likelihood and log q are those of the stored draws
    z = torch.as_tensor(idata.posterior["z"].values[0])  # (S, B, K)
    W = model.W.detach()
    expected_ll = dist.Normal(z @ W.T, model.sigma).log_prob(x).sum(-1)
    np.testing.assert_allclose(idata.log_likelihood["x"].values[0], expected_ll.numpy())
    loc, cov = model.posterior(x)
    expected_lq = dist.MultivariateNormal(loc, cov).log_prob(z)
    np.testing.assert_allclose(idata.sample_stats["log_q"].values[0], expected_lq.numpy())


@pytest.mark.parametrize(
    "kind, good",
    [("exact", True), ("overdispersed", True), ("narrow-shifted", False)],
    ids=["exact-posterior:k<0.5", "overdispersed:k<0.5", "narrow-and-shifted:k>0.7"],
)
def test_psis_khat_separates_good_and_bad_guides(kind, good):
    model, x = conjugate_problem(docs=10, seed=2)
    idata = to_inference_data(model, make_guide(model, x, kind), (x,), num_samples=1000, seed=3)
    smoothed, khat = psis_diagnostics(log_weights(idata))
    assert smoothed.shape == (1000, 10) and khat.shape == (10,)
    np.testing.assert_allclose(np.exp(smoothed).sum(0), 1.0, rtol=1e-6)  # normalized per doc
    summary = khat_summary(khat, num_samples=1000)
    if good:
        assert summary["share_le_0.5"] == 1.0
    else:
        assert summary["share_gt_0.7"] >= 0.8 and summary["median"] > 0.7


def test_psis_takes_the_sample_axis_first():
    rng = np.random.default_rng(0)
    lw = np.stack(
        [rng.normal(0.0, 0.1, 2000), np.log(np.abs(rng.standard_cauchy(2000))) * 2.0], axis=1
    )
    _, khat = psis_diagnostics(torch.as_tensor(lw))
    assert khat.shape == (2,)
    assert khat[0] < 0.5 < 0.7 < khat[1]
    with pytest.raises(ValueError, match="samples, datapoints"):
        psis_diagnostics(lw[:, 0])


def test_khat_summary_bands():
    s = khat_summary([0.1, 0.5, 0.6, 0.7, 0.9, 1.2], num_samples=100)
    assert s["documents"] == 6
    assert s["share_le_0.5"] == pytest.approx(2 / 6)
    assert s["share_0.5_0.7"] == pytest.approx(2 / 6)
    assert s["share_gt_0.7"] == pytest.approx(2 / 6)
    assert s["max"] == 1.2 and s["median"] == pytest.approx(0.65)
    assert s["threshold"] == pytest.approx(0.5)  # 1 - 1/log10(100)
    assert s["share_gt_threshold"] == pytest.approx(4 / 6)


def test_nuts_recovers_the_conjugate_posterior_with_the_weights_held_fixed():
    model, x = conjugate_problem(docs=2, seed=4)
    W_before = model.W.detach().clone()
    idata = nuts_reference(model, (x,), num_samples=400, warmup=300, seed=5)
    assert set(idata.posterior.data_vars) == {"z"}
    assert idata.posterior["z"].dims == ("chain", "draw", "doc", "latent")
    assert idata.posterior["z"].shape == (1, 400, 2, 2)
    loc, cov = model.posterior(x)
    sd = cov.diagonal().sqrt().numpy()
    z = idata.posterior["z"].values[0]
    assert np.all(np.abs(z.mean(0) - loc.numpy()) < 0.25 * sd)
    np.testing.assert_allclose(z.std(0, ddof=1), np.broadcast_to(sd, (2, 2)), rtol=0.2)
    # the decoder weights were constants: untouched, no gradient, flags restored
    assert torch.equal(model.W.detach(), W_before) and model.W.grad is None
    assert model.W.requires_grad and model.training
    assert "linear_gaussian$$$W" not in pyro.get_param_store()
    summary = reference_summary(idata)
    assert len(summary) == 4 and {"r_hat", "ess_bulk"} <= set(summary.columns)
    assert (summary["r_hat"] < 1.1).all()

    # against NUTS, the exact guide's error is Monte Carlo noise; a wrong guide's is not
    exact = to_inference_data(model, make_guide(model, x, "exact"), (x,), num_samples=1000)
    good = compare_to_reference(exact, idata)
    assert good["mean_rel_error_mean"] < 2 * good["noise_rel_mean"]
    assert good["mean_sd_ratio"] == pytest.approx(1.0, abs=0.1)
    wrong = make_guide(model, x, "narrow-shifted")
    bad = compare_to_reference(to_inference_data(model, wrong, (x,), num_samples=1000), idata)
    assert bad["mean_rel_error_mean"] > 1.5 and bad["mean_sd_ratio"] < 0.5


@pytest.fixture
def nvdm_problem():
    torch.manual_seed(0)
    V, K, B = 12, 3, 4
    model = NVDM(V, latent_dim=K)
    guide = DiagonalGaussianGuide(V, K, hidden_sizes=(8,))
    x = torch.distributions.Multinomial(10, logits=torch.randn(B, V)).sample()
    return model, guide, x


def test_nvdm_inference_data_groups_shapes_and_netcdf_round_trip(nvdm_problem, tmp_path):
    model, guide, x = nvdm_problem
    ids = np.array([10, 11, 12, 13])
    idata = to_inference_data(model, guide, (x,), num_samples=30, seed=0, coords={"doc": ids})
    assert {"posterior", "log_likelihood", "sample_stats"} <= set(idata.groups())
    z = idata.posterior["z"]
    assert z.dims == ("chain", "draw", "doc", "latent") and z.shape == (1, 30, 4, 3)
    np.testing.assert_array_equal(z["doc"].values, ids)
    for group, name in [("log_likelihood", "x"), ("sample_stats", "log_weight")]:
        assert idata[group][name].dims == ("chain", "draw", "doc")
        assert idata[group][name].shape == (1, 30, 4)
    assert np.all(idata.log_likelihood["x"].values < 0)
    # the draws are those of guide_samples with the same seed
    np.testing.assert_allclose(z.values[0], guide_samples(guide, (x,), 30, seed=0).numpy())

    path = tmp_path / "q.nc"
    idata.to_netcdf(str(path))
    back = az.from_netcdf(str(path))
    for group, name in [("posterior", "z"), ("log_likelihood", "x"), ("sample_stats", "log_q")]:
        np.testing.assert_array_equal(back[group][name].values, idata[group][name].values)
    np.testing.assert_array_equal(back.posterior["doc"].values, ids)


def test_sampling_is_seeded_and_leaves_global_state_and_modes_alone(nvdm_problem):
    model, guide, x = nvdm_problem
    guide.train()
    state = torch.get_rng_state()
    a = guide_samples(guide, (x,), 5, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, guide_samples(guide, (x,), 5, seed=7))
    assert not torch.equal(a, guide_samples(guide, (x,), 5, seed=8))
    assert a.shape == (5, 4, 3) and guide.training


def test_nuts_runs_on_nvdm(nvdm_problem):
    model, _, x = nvdm_problem
    idata = nuts_reference(model, (x[:2],), num_samples=20, warmup=20, num_chains=2, seed=0)
    assert idata.posterior["z"].shape == (2, 20, 2, 3)
    assert idata.sample_stats["diverging"].shape == (2, 20)
    assert all(p.requires_grad for p in model.parameters())


def test_compare_to_itself_is_zero_error_and_matches_documents_by_id(nvdm_problem):
    model, guide, x = nvdm_problem
    idata = to_inference_data(model, guide, (x,), num_samples=40, seed=0)
    same = compare_to_reference(idata, idata)
    assert same["documents"] == 4 and same["latent_dim"] == 3
    for key in ("mean_abs_error_mean", "mean_abs_error_sd", "mean_rel_error_mean"):
        assert same[key] == pytest.approx(0.0, abs=1e-12)
    assert same["mean_sd_ratio"] == pytest.approx(1.0)
    assert same["abs_error_mean"].shape == (4, 3)

    subset = compare_to_reference(idata, idata.isel(doc=[1, 3]))
    assert subset["documents"] == 2 and subset["mean_abs_error_mean"] == pytest.approx(0.0)
    np.testing.assert_array_equal(subset["doc"], [1, 3])

    other = to_inference_data(model, guide, (x,), num_samples=40, seed=1)
    different = compare_to_reference(idata, other)
    assert different["mean_abs_error_mean"] > 0
    assert math.isfinite(different["mean_rel_error_sd"])


def test_pair_plot_writes_a_png(nvdm_problem, tmp_path):
    model, guide, x = nvdm_problem
    q = to_inference_data(model, guide, (x,), num_samples=40, seed=0)
    p = to_inference_data(model, guide, (x,), num_samples=40, seed=1)
    path = pair_plot(p, q, doc=2, dims=(0, 1, 2), path=tmp_path / "pair.png")
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
