"""``ppl-vae download``: fetch a public corpus, checked against its SHA-256."""

from __future__ import annotations

import argparse

from ppl_vae.cli.options import add_threads
from ppl_vae.data.download import download_corpus


def add_parser(sub) -> None:
    dl = sub.add_parser(
        "download",
        help="fetch a public corpus",
        description="Download 20news (NVDM release) or ptb (Mikolov's Penn Treebank), checked "
        "against their SHA-256.",
    )
    dl.add_argument("corpus", choices=["20news", "ptb"], help="which corpus")
    dl.add_argument("--dest", default="data", help="directory to put it in (default data/)")
    add_threads(dl)  # accepted by every subcommand, so scripts can pass it throughout
    dl.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(f"corpus ready in {download_corpus(args.corpus, args.dest)}")
    return 0
