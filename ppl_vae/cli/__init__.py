"""The ``ppl-vae`` command."""

from ppl_vae.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
