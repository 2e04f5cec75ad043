"""The ``ppl-vae`` command: one module per subcommand, each of which parses its flags, calls
the library and prints. Library errors become one line on stderr and an exit status:

* 2 for bad input (data, checkpoints, run directories, flags that cannot work together),
* 1 for a run whose loss diverged, or an unexpected fault,
* 130 for a second Ctrl-C (the first saves a checkpoint and stops cleanly).

With ``-v`` (or ``PPL_VAE_DEBUG=1`` in the environment) an unexpected fault shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import torch

from ppl_vae.cli import compare, download, evaluate, generate, train
from ppl_vae.cli.options import UsageError, training_options
from ppl_vae.data import DataError
from ppl_vae.ops.threads import choose_threads
from ppl_vae.ops.world import leave, world
from ppl_vae.runs.registry import SENTENCE_MODELS
from ppl_vae.runs.topics import TopicError
from ppl_vae.training import TrainingDiverged
from ppl_vae.training.checkpoint import CheckpointError
from ppl_vae.training.files import RunError, read_run_config

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppl-vae",
        description="Train and evaluate deep generative models of text written in Pyro.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    options = training_options()
    train.add_parser(sub, options)
    compare.add_parser(sub, options)
    evaluate.add_parsers(sub)
    generate.add_parsers(sub)
    download.add_parser(sub)
    return parser


def _large_network(args: argparse.Namespace) -> bool:
    """Whether the command runs a sentence model (an LSTM over a large vocabulary), by its
    ``model`` argument or the run directory's ``config.json``."""
    model = getattr(args, "model", None)
    if model is None and getattr(args, "run_dir", None):
        try:
            model = read_run_config(args.run_dir).get("model")
        except (OSError, RunError):  # the command itself reports a bad run directory
            model = None
    return model in (*SENTENCE_MODELS, "sentence")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "no_progress", True) and not sys.stderr.isatty():
        # a log, not a terminal: no carriage-return bars, a line per epoch instead
        args.no_progress = True
        logging.getLogger("ppl_vae.training.loop").setLevel(logging.INFO)
    threads = choose_threads(getattr(args, "threads", None), _large_network(args))
    if threads:
        torch.set_num_threads(threads)
    debug = getattr(args, "verbose", False) or os.environ.get("PPL_VAE_DEBUG") == "1"
    try:
        code = args.run(args)
        sys.stdout.flush()  # a launcher may kill this process soon after it exits
        leave()  # a torchrun job's ranks leave together
        return code
    except (DataError, CheckpointError, UsageError, RunError, TopicError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the last checkpoint written is intact", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        line = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, RuntimeError) and world().distributed:  # a peer died or hung up
            print(
                f"error: rank {world().rank} lost the distributed job ({line}); another rank "
                "failed or was stopped: see torchrun's report. The run directory keeps its last "
                "checkpoint: continue with --resume",
                file=sys.stderr,
            )
            return 1
        print(f"error: {type(e).__name__}: {line} (-v shows the traceback)", file=sys.stderr)
        return 1
