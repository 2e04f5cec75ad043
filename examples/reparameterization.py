"""What the reparameterization trick buys: gradient variance of the same guide, two estimators.

Loads a trained NVDM run with a diagonal-Gaussian guide, copies its weights into
:class:`~ppl_vae.guides.ScoreFunctionGaussianGuide` (the same network, but ``z`` is not
reparameterized, so Pyro's ``TraceGraph_ELBO`` uses the score function with a learned
baseline), and estimates the variance of the encoder's gradient on the same training batches
with both estimators, at the same weights.

    python examples/reparameterization.py runs/compare-20news/diagonal [--batches 5]

The baseline network of the score-function guide is untrained here (it starts at the mean
log-likelihood per word), so the figure is the variance a score-function run starts from.
"""

from __future__ import annotations

import argparse

import numpy as np
import pyro
import torch
from pyro.infer import TraceGraph_ELBO, TraceMeanField_ELBO

from ppl_vae.data import load_documents
from ppl_vae.evaluation.gradient_variance import gradient_variance
from ppl_vae.guides import ScoreFunctionGaussianGuide
from ppl_vae.runs import load_run


def load_data(args):
    run = load_run(args.run_dir)
    if run.config.guide != "diagonal":
        raise SystemExit(f"{args.run_dir} was trained with {run.config.guide}, not diagonal")
    data = load_documents(run.config.data, seed=run.config.seed)
    return run, data.train


def run_inference(args, run, train):
    guide = run.guide
    sf = ScoreFunctionGaussianGuide(
        len(run.vocab), run.config.latent_dim, **run.config.guide_kwargs
    )
    sf.load_state_dict(guide.state_dict(), strict=False)  # all but the baseline network
    rng = np.random.default_rng(args.seed)
    rows = []
    for _ in range(args.batches):
        idx = rng.choice(len(train), run.config.batch_size, replace=False)
        batch = train.make_batch(idx)
        pyro.set_rng_seed(args.seed)
        reparam = gradient_variance(run.model, guide, TraceMeanField_ELBO(), batch, args.estimates)
        score = gradient_variance(run.model, sf, TraceGraph_ELBO(), batch, args.estimates)
        rows.append((reparam["mean_variance"], score["mean_variance"]))
    return np.array(rows)


def main(args):
    torch.set_num_threads(args.threads)
    run, train = load_data(args)
    rows = run_inference(args, run, train)
    print(f"encoder gradient variance, mean over coordinates ({args.estimates} estimates/batch):")
    for i, (r, s) in enumerate(rows):
        print(f"  batch {i}: reparameterized {r:.4g}, score function {s:.4g} ({s / r:.0f}x)")
    ratio = np.exp(np.mean(np.log(rows[:, 1] / rows[:, 0])))
    print(f"geometric mean ratio, score function / reparameterized: {ratio:.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="an NVDM run trained with the diagonal guide")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--estimates", type=int, default=20, help="gradient draws per batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    main(parser.parse_args())
