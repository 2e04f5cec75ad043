"""``ppl-vae sample``, ``reconstruct`` and ``interpolate``: sentences from a sentence VAE."""

from __future__ import annotations

import argparse
import sys

from ppl_vae.cli.options import add_common
from ppl_vae.evaluation.generation import encode_sentences, interpolate, reconstruct
from ppl_vae.ops.rng import own_rng
from ppl_vae.runs.generate import sample_sentences
from ppl_vae.runs.run import load_sentence_run

COMMANDS = {  # name: (help, description)
    "sample": (
        "sentences from the prior of a sentence VAE or autoencoder",
        "Decode z ~ N(0, I), or with --codes z from a Gaussian fitted to the training sentences' "
        "codes, into sentences.",
    ),
    "reconstruct": (
        "decode sentences through the posterior",
        "For each sentence, decode the posterior mean (MEAN) and samples of q(z|x) (SAMP), as in "
        "Bowman et al.'s Table 4.",
    ),
    "interpolate": (
        "homotopy between two sentences",
        "Decode evenly spaced points between the posterior means of two sentences.",
    ),
}


def add_parsers(sub) -> None:
    p = {}
    for name, (text, description) in COMMANDS.items():
        p[name] = sub.add_parser(name, help=text, description=description)
        p[name].add_argument("run_dir", help="a sentence-vae or sentence-ae run directory")
        if name != "interpolate":
            p[name].add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p[name].add_argument("--max-words", "--max-length", dest="max_length", type=int,
                             default=30, help="most words per sentence (default 30)")  # fmt: skip
        add_common(p[name])
    p["sample"].add_argument("--n", type=int, default=10, help="how many sentences (default 10)")
    how = p["sample"].add_mutually_exclusive_group()
    how.add_argument("--greedy", action="store_true", help="most probable word (the default)")
    how.add_argument("--temperature", type=float, help="sample each word with logits / T")
    how.add_argument("--beam", type=int, default=None, help="beam search with this width")
    p["sample"].add_argument("--codes", action="store_true", help="draw z from a Gaussian fitted "
                             "to the posterior means of the training sentences (an autoencoder's "
                             "codes do not follow N(0, I))")  # fmt: skip
    p["sample"].add_argument("--data", help="the corpus directory, if it has moved since training")
    p["reconstruct"].add_argument("sentences", nargs="+", help="whitespace-tokenized sentences")
    p["reconstruct"].add_argument("--samples", type=int, default=3, help="SAMP rows per "
                                  "sentence (default 3)")  # fmt: skip
    p["interpolate"].add_argument("a", help="the first sentence")
    p["interpolate"].add_argument("b", help="the second sentence")
    p["interpolate"].add_argument("--steps", type=int, default=5, help="points, ends included (5)")
    for name in ("reconstruct", "interpolate"):
        p[name].add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy (default)")
    for name, run in (("sample", run_sample), ("reconstruct", run_reconstruct),
                      ("interpolate", run_interpolate)):  # fmt: skip
        p[name].set_defaults(run=run)


def run_sample(args: argparse.Namespace) -> int:
    method = "beam" if args.beam else "sample" if args.temperature else "greedy"
    sentences = sample_sentences(args.run_dir, args.n, args.max_length, method,
                                 args.temperature or 1.0, args.beam or 1, args.seed, args.codes,
                                 args.data)  # fmt: skip
    print("\n".join(sentences))
    return 0


def run_reconstruct(args: argparse.Namespace) -> int:
    run, vocab = load_sentence_run(args.run_dir)
    unknown = encode_sentences(vocab, args.sentences)[2]
    if unknown:
        print(f"note: {unknown} word(s) not in the vocabulary were read as <unk>", file=sys.stderr)
    with own_rng(args.seed):
        rows = reconstruct(
            run.model, run.guide, vocab, args.sentences, args.samples, args.max_length, args.beam
        )
    for row in rows:
        print(f"INPUT  {row['input']}\nMEAN   {row['mean']}")
        for sample in row["samples"]:
            print(f"SAMP   {sample}")
        print()
    return 0


def run_interpolate(args: argparse.Namespace) -> int:
    run, vocab = load_sentence_run(args.run_dir)
    path = interpolate(run.model, run.guide, vocab, args.a, args.b, args.steps, args.max_length,
                       args.beam)  # fmt: skip
    print("\n".join(path))
    return 0
