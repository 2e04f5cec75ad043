"""The README's 20 Newsgroups result, as a long test: ``pytest -m slow`` (about 15 minutes)."""

import pytest

from ppl_vae.cli import main
from ppl_vae.data import data_root

NEWS = data_root() / "20news"


@pytest.mark.slow
@pytest.mark.skipif(not (NEWS / "train.feat").exists(), reason=f"no corpus at {NEWS}")
def test_nvdm_reaches_the_papers_perplexity(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "nvdm",
                "--data",
                str(NEWS),
                "--out",
                str(tmp_path),
                "--no-progress",
                "--eval-samples",
                "0",
            ]
        )
        == 0
    )
    capsys.readouterr()
    main(["evaluate", str(tmp_path), "--samples", "20", "--json"])
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["ppl_doc_elbo"] <= 836
