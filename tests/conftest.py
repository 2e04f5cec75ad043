import pyro
import pytest
import torch

from ppl_vae.data import SyntheticSpec, load_documents

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _pyro_setup():
    pyro.enable_validation(True)
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    yield
    pyro.clear_param_store()


TINY = SyntheticSpec(
    latent_dim=3,
    words_per_topic=10,
    common_words=30,
    train_docs=240,
    valid_docs=40,
    test_docs=60,
    mean_length=40.0,
    seed=1,
)


@pytest.fixture
def tiny_corpus():
    """A small synthetic corpus (V=60) from a 3-dim NVDM."""
    return load_documents({"kind": "synthetic", "spec": TINY.to_dict()})
