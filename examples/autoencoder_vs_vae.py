"""The lecture's "VAEs as autoencoders", measured: a deterministic sentence autoencoder against
the sentence VAE, with an RNNLM as the judge of fluency.

    ppl-vae train sentence-ae  --out runs/ae  --epochs 10
    ppl-vae train sentence-vae --out runs/vae --epochs 10
    ppl-vae train rnnlm        --out runs/lm  --epochs 10
    python examples/autoencoder_vs_vae.py --ae runs/ae --vae runs/vae --lm runs/lm

For each run (:func:`ppl_vae.runs.latent_space.compare_latent_spaces`):

* reconstruction of the test sentences by greedy decoding from mu(x): exact-match rate, token
  accuracy (``<eos>`` included) and BLEU-4;
* sentences greedily decoded from ``z ~ N(0, I)`` ("prior") and from a Gaussian fitted to the
  codes of the training sentences ("codes"): their NLL per token under the RNNLM (lower is more
  fluent) and their share of degenerate sentences (empty, or one token repeated);
* interpolations between random pairs of test sentences: the share of inner points that repeat
  an endpoint's sentence or are degenerate, and the NLL per token of the midpoints.

The expectation (the lecture's point): the autoencoder reconstructs better, and decodes less
fluent sentences away from its codes. The table is printed as Markdown, followed by examples.
"""

from __future__ import annotations

import argparse
import json
import logging

import torch

from ppl_vae.runs.latent_space import compare_latent_spaces

ROWS = [  # (label, key in the figures, format)
    ("reconstruction: exact match", ("reconstruction", "exact_match"), "{:.1%}"),
    ("reconstruction: token accuracy", ("reconstruction", "token_accuracy"), "{:.1%}"),
    ("reconstruction: BLEU-4", ("reconstruction", "bleu"), "{:.3f}"),
    ("z ~ N(0, I): RNNLM NLL per token", ("prior_nll_per_token",), "{:.2f}"),
    ("z ~ N(0, I): degenerate", ("prior_degenerate",), "{:.1%}"),
    ("z ~ N(0, I): distinct sentences", ("prior_distinct",), "{:.1%}"),
    ("z ~ fitted codes: RNNLM NLL per token", ("codes_nll_per_token",), "{:.2f}"),
    ("z ~ fitted codes: degenerate", ("codes_degenerate",), "{:.1%}"),
    ("interpolation midpoints: RNNLM NLL per token", ("midpoint_nll_per_token",), "{:.2f}"),
    ("interpolation: inner steps repeating an end or degenerate",
     ("interpolation_repeat_or_degenerate",), "{:.1%}"),
    ("interpolation: distinct inner sentences (of 3)", ("interpolation_distinct_inner",),
     "{:.2f}"),
    ("codes: mean sd per dimension", ("code_scale",), "{:.2f}"),
]  # fmt: skip


def value(figures: dict, key: tuple) -> float:
    for k in key:
        figures = figures[k]
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ae", required=True, help="a sentence-ae run directory")
    p.add_argument("--vae", required=True, help="a sentence-vae run directory")
    p.add_argument("--lm", required=True, help="an rnnlm run directory (the fluency judge)")
    p.add_argument("--data", default=None, help="the corpus directory, if it has moved")
    p.add_argument("--items", type=int, default=None, help="test sentences to reconstruct (all)")
    p.add_argument("--samples", type=int, default=500, help="prior samples per run (500)")
    p.add_argument("--pairs", type=int, default=200, help="interpolated pairs per run (200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    runs = {"autoencoder": args.ae, "VAE": args.vae}
    figures = compare_latent_spaces(
        runs,
        args.lm,
        items=args.items,
        samples=args.samples,
        pairs=args.pairs,
        seed=args.seed,
        data_dir=args.data,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    labels = list(runs)
    print("| measure | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name, key, fmt in ROWS:
        print(
            f"| {name} | " + " | ".join(fmt.format(value(figures[r], key)) for r in labels) + " |"
        )
    for kind, title in (("reconstructions", "reconstructions (input -> greedy from mu(x))"),
                        ("prior", "z ~ N(0, I)"), ("codes", "z ~ fitted codes"),
                        ("midpoints", "interpolation midpoints")):  # fmt: skip
        print(f"\n{title}:")
        for r in labels:
            for example in figures[r]["examples"][kind][:5]:
                text = " -> ".join(example) if isinstance(example, (list, tuple)) else example
                print(f"  [{r}] {text}")


if __name__ == "__main__":
    main()
