"""The lecture's generation tables from a trained sentence VAE (Bowman et al., 2016, Tables 3-5).

    ppl-vae train sentence-vae --out runs/svae --epochs 10
    python examples/sentence_tables.py runs/svae
    python examples/sentence_tables.py runs/ptb-vae --out runs/ptb-vae/tables.md

For the first ``--n`` test sentences of ``--min-words`` to ``--max-words`` words with no
``<unk>`` or ``N`` (so that the choice is a rule, not a pick), it decodes the posterior mean
(MEAN) and ``--samples`` draws of q(z | x) (SAMP); then the homotopy between the posterior means
of the first two (``--steps`` points, ends included); then sentences decoded from the prior.
Decoding is greedy unless ``--beam`` is above 1. The tables are printed as Markdown and, with
``--out``, written to a file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pyro
import torch

from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.data.vocabulary import Vocabulary
from ppl_vae.evaluation.generation import interpolate, reconstruct, search_decode, to_text
from ppl_vae.runs import check_vocab, load_run

NOT_WORDS = {"<unk>", "N"}


def load_data(args):
    """The trained run and the test sentences the selection rule picks."""
    run = load_run(args.run_dir)
    if run.config.model not in ("sentence-vae", "sentence-ae"):
        raise SystemExit(
            f"{args.run_dir} is a {run.config.model} run; this needs a sentence-vae or sentence-ae"
        )
    source = run.config.data
    if args.data:  # the run's vocabulary settings on another copy of the corpus
        source = {**source, "kind": "sentences", "path": args.data}
    data = load_sentence_data(source)
    check_vocab(run.vocab, run.path, data.vocab, str(args.data or "the run's corpus"))
    picked = []
    for i in range(len(data.test)):
        words = data.test.text(i).split()
        if args.min_words <= len(words) <= args.max_words and not NOT_WORDS & set(words):
            picked.append(" ".join(words))
        if len(picked) == args.n:
            break
    if len(picked) < 2:
        raise SystemExit("fewer than two test sentences fit --min-words/--max-words")
    return run, Vocabulary(run.vocab), picked


def run_inference(args, run, vocab, sentences):
    """MEAN/SAMP rows, one interpolation, and prior samples."""
    pyro.set_rng_seed(args.seed)
    model, guide = run.model.eval(), run.guide.eval()
    rows = reconstruct(model, guide, vocab, sentences, args.samples, beam=args.beam)
    path = interpolate(model, guide, vocab, sentences[0], sentences[1], args.steps, beam=args.beam)
    with torch.no_grad():
        z = torch.randn(args.prior, run.config.latent_dim)
        prior = to_text(vocab, search_decode(model, z, beam=args.beam))
    return rows, path, prior


def tables(rows, path, prior) -> str:
    """The three tables as Markdown; sentences in code spans, so that ``<unk>`` shows."""
    lines = ["| | sentence |", "|---|---|"]
    for row in rows:
        lines.append(f"| **INPUT** | **`{row['input']}`** |")
        lines.append(f"| MEAN | `{row['mean']}` |")
        lines.extend(f"| SAMP | `{s}` |" for s in row["samples"])
    lines += ["", "| t | decoded from (1 - t) mu_a + t mu_b |", "|---|---|"]
    steps = len(path)
    lines.extend(f"| {k / (steps - 1):.2f} | `{s}` |" for k, s in enumerate(path))
    lines += ["", "| z ~ N(0, I) |", "|---|"]
    lines.extend(f"| `{s}` |" for s in prior)
    return "\n".join(lines) + "\n"


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run, vocab, sentences = load_data(args)
    text = tables(*run_inference(args, run, vocab, sentences))
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a sentence-vae run directory")
    parser.add_argument("--data", default=None, help="corpus directory (default: the run's)")
    parser.add_argument("--n", type=int, default=3, help="test sentences to reconstruct (3)")
    parser.add_argument("--min-words", type=int, default=6)
    parser.add_argument("--max-words", type=int, default=12)
    parser.add_argument("--samples", type=int, default=3, help="SAMP rows per sentence (3)")
    parser.add_argument("--steps", type=int, default=5, help="interpolation points (5)")
    parser.add_argument("--prior", type=int, default=5, help="sentences from the prior (5)")
    parser.add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    main(parser.parse_args())
