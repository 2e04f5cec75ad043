import pytest

from ppl_vae.cli import main
from tests.cli.flags import SMALL


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "nvdm", "--out", str(out), "--epochs", "2", *SMALL]) == 0
    return out
