import math

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.evaluation import particle_terms
from ppl_vae.guides import DiagonalGaussianGuide, SemiAmortizedGuide
from ppl_vae.models import NVDM
from ppl_vae.ops.refinement import gaussian_elbo_per_item

V, K = 30, 3


def latent_shapes(trace):
    return {
        name: site["value"].shape
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site["is_observed"] and name != "documents"
    }


def counts(batch=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, V), 2.0), generator=g)


def randomize(module, std=0.2):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)


def test_guide_samples_the_models_latent_site_and_nothing_leaks():
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, hidden_sizes=(16,), model=model)
    x = counts()
    g = poutine.trace(guide).get_trace(x)
    m = poutine.trace(model).get_trace(x)
    assert latent_shapes(g) == latent_shapes(m) == {"z": torch.Size([6, K])}
    sample_sites = [n for n, s in g.nodes.items() if s["type"] == "sample"]
    assert sample_sites == ["documents", "z"]  # the model's sites stay inside the refinement
    params = [n for n, s in g.nodes.items() if s["type"] == "param"]
    assert params and all(n.startswith("semi_amortized_encoder$$$") for n in params)


def test_the_model_is_not_a_submodule():
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, hidden_sizes=(16,), model=model)
    assert guide.model is model
    assert all(key.startswith("encoder.") for key in guide.state_dict())
    model_params = {id(p) for p in model.parameters()}
    assert not any(id(p) in model_params for p in guide.parameters())
    with pytest.raises(TypeError):
        SemiAmortizedGuide(V, K)  # the model is required


def test_without_steps_it_is_the_amortized_guide():
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, hidden_sizes=(16,), model=model, steps=0)
    diagonal = DiagonalGaussianGuide(V, K, hidden_sizes=(16,))
    randomize(diagonal)
    guide.encoder.load_state_dict(diagonal.state_dict())
    x = counts()
    for got, expected in zip(guide.encode(x), diagonal.encode(x)):
        assert torch.allclose(got, expected)


@pytest.mark.parametrize(
    "optimizer, step_size", [("sgd", 1e-2), ("adam", 5e-2)], ids=["sgd", "adam"]
)
def test_refined_elbo_beats_the_amortized_elbo(optimizer, step_size):
    model = NVDM(V, K)
    randomize(model, 0.5)
    guide = SemiAmortizedGuide(
        V, K, (16,), model=model, steps=10, step_size=step_size, optimizer=optimizer
    )
    randomize(guide.encoder)
    x = counts()
    with torch.no_grad():  # as evaluation code calls it
        amortized = guide.amortized_params(x)
        refined = guide.refined_params(x)
        before = gaussian_elbo_per_item(model, (x,), *amortized, num_samples=4000)
        after = gaussian_elbo_per_item(model, (x,), *refined, num_samples=4000)
    assert (after >= before - 0.1).all() and after.mean() > before.mean() + 0.5
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("create_graph", [False, True], ids=["stop-gradient", "through-steps"])
@pytest.mark.parametrize("elbo", [TraceMeanField_ELBO, Trace_ELBO], ids=["meanfield", "trace"])
def test_svi_steps_run_with_finite_changing_loss(elbo, create_graph):
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, (16,), model=model, create_graph=create_graph)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), elbo())
    x = counts(16)
    encoder_before = guide.encoder.loc.weight.detach().clone()
    decoder_before = model.decoder.weight.detach().clone()
    losses = [svi.step(x) for _ in range(10)]
    assert all(math.isfinite(loss) for loss in losses)
    assert len(set(losses)) > 1
    assert not torch.equal(guide.encoder.loc.weight, encoder_before)
    assert not torch.equal(model.decoder.weight, decoder_before)


def test_vectorized_particles_and_several_refinement_samples():
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, (16,), model=model, num_samples=3)
    elbo = Trace_ELBO(num_particles=4, vectorize_particles=True, max_plate_nesting=1)
    assert math.isfinite(elbo.loss(model, guide, counts()))


def test_per_document_evaluation_runs_under_no_grad():
    model = NVDM(V, K)
    guide = SemiAmortizedGuide(V, K, (16,), model=model)
    with torch.no_grad():
        terms = particle_terms(model, guide, counts())
    assert terms.log_weight.shape == (6,) and torch.isfinite(terms.log_weight).all()


def test_bad_arguments():
    model = NVDM(V, K)
    with pytest.raises(ValueError, match="optimizer"):
        SemiAmortizedGuide(V, K, model=model, optimizer="lbfgs")
    with pytest.raises(ValueError, match="steps"):
        SemiAmortizedGuide(V, K, model=model, steps=-1)
