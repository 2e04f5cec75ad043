"""Importance-sampled evaluation of NVDM on the 20 Newsgroups test set: the library against a
hand-written PyTorch evaluation of the same networks.

Both run the encoder once per document and draw the particles in chunks (at most 4M logits at
once), ``log p(x | z) = (xR) z + x b - N logsumexp(Rz + b)``, and a float64 log-sum-exp over
the samples. The library's side is :func:`ppl_vae.evaluation.evaluate` (its closed-form path,
with per-batch seeding, sharding hooks and the summary); the hand-written side is the loop
below. They are timed in alternating rounds of one run (medians), and their perplexities are
printed side by side (different draws: they agree to sampling noise). The library's
evaluation with ``q`` refined per document (50 Adam steps, ``ppl-vae evaluate``'s default) is
timed too.

    python benchmarks/bench_evaluate.py [--run runs/20news-s0-t1] [--samples 1000]
        [--threads 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

from ppl_vae.data import data_root, load_documents
from ppl_vae.evaluation import evaluate
from ppl_vae.evaluation.fast_documents import CHUNK_ELEMENTS, REFINE_STEPS
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.ops.metrics import perplexity_corpus, perplexity_per_document
from ppl_vae.runs import load_run


@torch.no_grad()
def hand_written(model, guide, corpus, samples: int, batch_size: int = 500) -> np.ndarray:
    """Per-document importance-sampled ``log p(x)``, written out in PyTorch."""
    R, b = model.decoder.weight, model.decoder.bias
    out = []
    for idx in corpus.batch_indices(batch_size, shuffle=False):
        (x,) = corpus.make_batch(idx)
        loc, scale = guide.encode(x)
        xr, xb, n = x @ R, x @ b, x.sum(-1)
        step = max(1, CHUNK_ELEMENTS // (x.shape[0] * R.shape[0]))
        log_w = []
        for start in range(0, samples, step):
            eps = torch.randn(min(step, samples - start), *loc.shape)
            z = loc + scale * eps
            log_lik = (z * xr).sum(-1) + xb - n * torch.logsumexp(z @ R.T + b, -1)
            log_prior = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
            log_q = (-0.5 * eps.pow(2) - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
            log_w.append(log_lik.double() + log_prior.double() - log_q.double())
        out.append(torch.cat(log_w).logsumexp(0) - math.log(samples))
    return torch.cat(out).numpy()


def main(args) -> None:
    torch.set_num_threads(args.threads)
    data = load_documents(data_root() / "20news")
    if args.run:
        run = load_run(args.run)
        model, guide = run.model, run.guide
    else:  # untrained networks of the default sizes: the same work per document
        torch.manual_seed(0)
        model, guide = NVDM(data.train.vocab_size, 50), DiagonalGaussianGuide(2000, 50)
    model.eval()
    guide.eval()
    test = data.test
    tokens = np.concatenate(
        [test.make_batch(i)[0].sum(-1).numpy() for i in test.batch_indices(500, shuffle=False)]
    )
    print(f"20News test: {len(test)} documents, {int(tokens.sum())} tokens; {args.samples} "
          f"samples; {args.threads} thread(s); weights: {args.run or 'untrained'}")  # fmt: skip
    sides = {
        "library (evaluate)": lambda: evaluate(model, guide, test, args.samples, seed=0),
        "hand-written PyTorch": lambda: hand_written(model, guide, test, args.samples),
    }
    times = {name: [] for name in sides}
    results = {}
    for _ in range(args.rounds):
        for name, run_side in sides.items():
            start = time.perf_counter()
            results[name] = run_side()
            times[name].append(time.perf_counter() - start)
    start = time.perf_counter()
    refined = evaluate(model, guide, test, args.samples, seed=0, refine_steps=REFINE_STEPS)
    refined_seconds = time.perf_counter() - start
    lib, hand = results["library (evaluate)"], results["hand-written PyTorch"]
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"(medians of {args.rounds} alternating round(s))")
    print(f"library:      {med['library (evaluate)']:.1f} s; per-document IW perplexity "
          f"{lib.ppl_doc_iw:.1f}, corpus {lib.ppl_corpus_iw:.1f}")  # fmt: skip
    print(f"hand-written: {med['hand-written PyTorch']:.1f} s; per-document IW perplexity "
          f"{perplexity_per_document(hand, tokens):.1f}, corpus "
          f"{perplexity_corpus(hand, tokens):.1f}")  # fmt: skip
    print(f"library with q refined ({REFINE_STEPS} steps): {refined_seconds:.1f} s; per-document "
          f"ELBO {refined.ppl_doc_elbo:.1f}, IW {refined.ppl_doc_iw:.1f}")  # fmt: skip
    ratio = med["library (evaluate)"] / med["hand-written PyTorch"]
    print(f"library evaluation / hand-written PyTorch evaluation: {ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a trained NVDM run (default: untrained)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    main(parser.parse_args())
