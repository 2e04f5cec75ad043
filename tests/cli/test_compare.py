"""``ppl-vae compare``."""

import json

from ppl_vae.cli import main


def test_compare_trains_each_guide_and_prints_the_table(tmp_path, capsys):
    argv = ["compare", "--guides", "diagonal,iaf", "--out", str(tmp_path), "--epochs", "1"]
    argv += ["--latent-dim", "4", "--hidden", "16", "--samples", "4", "--psis-samples", "8"]
    argv += ["--analysis-items", "10", "--gap-steps", "3", "--grad-estimates", "2"]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| diagonal |" in out and "| iaf |" in out
    rows = json.loads((tmp_path / "comparison.json").read_text())
    assert [r["guide"] for r in rows] == ["diagonal", "iaf"]


def test_compare_refuses_a_guide_of_another_model(tmp_path, capsys):
    assert main(["compare", "--guides", "diagonal,lstm", "--out", str(tmp_path)]) == 2
    assert "does not fit model 'nvdm'" in capsys.readouterr().err
