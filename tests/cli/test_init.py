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


def test_an_unexpected_fault_is_one_line_and_v_shows_its_traceback(monkeypatch, capsys):
    import ppl_vae.cli.download as download

    def broken(corpus, dest):
        raise ZeroDivisionError("somewhere deep\nsecond line")

    monkeypatch.setattr(download, "download_corpus", broken)
    assert main(["download", "ptb"]) == 1
    assert capsys.readouterr().err == (
        "error: ZeroDivisionError: somewhere deep (-v shows the traceback)\n"
    )
    monkeypatch.setenv("PPL_VAE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["download", "ptb"])


def test_a_second_ctrl_c_is_one_line(monkeypatch, capsys):
    import ppl_vae.cli.download as download

    def interrupted(corpus, dest):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "download_corpus", interrupted)
    assert main(["download", "ptb"]) == 130
    assert capsys.readouterr().err == "error: interrupted; the last checkpoint written is intact\n"
