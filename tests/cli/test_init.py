"""The ``ppl-vae`` command: its parser and help."""

import pytest

from ppl_vae.cli import main


@pytest.mark.parametrize(
    "argv", [[], ["train"], ["evaluate"], ["topics"]], ids=["top", "train", "evaluate", "topics"]
)
def test_help_explains_every_flag(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    if argv == ["train"]:
        for flag in (
            "--data",
            "--out",
            "--resume",
            "--anneal",
            "--beta",
            "--lr-decay",
            "--patience",
            "--device",
            "--no-progress",
            "--seed",
        ):
            assert flag in out
