"""The lecture's story on one small corpus: exact EM, then a neural likelihood, then objectives.

1. A mixture of multinomials fitted by EM: the E-step is the exact posterior p(z | x), so the
   bound EM climbs is tight and the held-out log-likelihood is exact.
2. Make the likelihood a neural network, p(x | z) = softmax(R z + b) with z ~ N(0, I) (NVDM):
   p(z | x) now needs the integral of p(x | z) p(z) over R^K, which has no closed form. There
   is no exact E-step any more.
3. So learn an inference network q(z | x) instead, and train it three ways on the same data:
   the VAE's ELBO (reparameterization), wake-sleep, and reweighted wake-sleep.

    python examples/lecture_story.py [--epochs 20] [--plot lecture_story.png]

Expected output (seed 0, about 20 seconds on one core; held-out per-document perplexity):

    model                      trained by                    ppl (bound)  ppl (IW/exact)
    mixture of multinomials    EM, K=8                             213.2           213.2
    NVDM, 8-dim latent         VAE ELBO                            195.0           191.0
    NVDM, 8-dim latent         wake-sleep                          199.1           192.9
    NVDM, 8-dim latent         reweighted wake-sleep, K=5          196.0           190.4

The mixture's log-likelihood is exact; the neural likelihood does better with no exact E-step.
The VAE has the best bound; wake-sleep's bound is the loosest, since its guide is trained on
dreams rather than on the bound; reweighted wake-sleep's importance-weighted estimate is best.
"""

from __future__ import annotations

import argparse
import logging
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pyro  # noqa: E402
import torch  # noqa: E402

from ppl_vae.config import TrainConfig  # noqa: E402
from ppl_vae.data import SyntheticSpec, load_documents  # noqa: E402
from ppl_vae.evaluation import evaluate  # noqa: E402
from ppl_vae.infer.em import fit_em  # noqa: E402
from ppl_vae.runs.registry import build  # noqa: E402
from ppl_vae.training import train  # noqa: E402


def load_data(args):
    spec = SyntheticSpec(train_docs=2000, valid_docs=200, test_docs=500, seed=args.seed)
    return load_documents({"kind": "synthetic", "spec": spec.to_dict()})


def run_inference(args, data):
    rows = []
    start = time.perf_counter()
    fit = fit_em(data.train, args.components, restarts=3, iterations=200, seed=args.seed)
    ppl = fit.perplexity(data.test)
    rows.append(
        (
            "mixture of multinomials",
            f"EM, K={args.components}",
            ppl["per_document"],
            ppl["per_document"],
            time.perf_counter() - start,
        )
    )
    steps = list(zip(fit.history, fit.history[1:]))
    monotone = "never fell" if all(b >= a for a, b in steps) else "FELL at some iteration"
    print(
        f"EM: {fit.iterations} iterations; the bound {monotone}, rising from "
        f"{fit.history[0]:.0f} to {fit.history[-1]:.0f} nats on train"
    )

    for objective, label in [
        ("meanfield", "VAE ELBO"),
        ("wake-sleep", "wake-sleep"),
        ("rws", "reweighted wake-sleep, K=5"),
    ]:
        config = TrainConfig(
            latent_dim=args.latent_dim,
            guide_kwargs={"hidden_sizes": [200]},
            objective=objective,
            num_particles=5 if objective == "rws" else 1,
            epochs=args.epochs,
            lr=3e-3,
            seed=args.seed,
        )
        pyro.set_rng_seed(args.seed)
        model, guide = build(config, data.train.vocab_size)
        start = time.perf_counter()
        train(model, guide, data.train, None, config, progress=False)
        seconds = time.perf_counter() - start
        pyro.set_rng_seed(args.seed)
        ev = evaluate(model, guide, data.test, num_samples=args.samples)
        rows.append(
            (f"NVDM, {args.latent_dim}-dim latent", label, ev.ppl_doc_elbo, ev.ppl_doc_iw, seconds)
        )
    return rows


def plot(rows, path):
    labels = [r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar([i - 0.2 for i in range(len(rows))], [r[2] for r in rows], 0.4, label="bound")
    ax.bar(
        [i + 0.2 for i in range(len(rows))],
        [r[3] for r in rows],
        0.4,
        label="importance-sampled (exact for EM)",
    )
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel("held-out perplexity per document")
    values = [v for r in rows for v in r[2:4]]
    ax.set_ylim(0.95 * min(values), 1.02 * max(values))  # a zoomed axis: compare the tops
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {path}")


def main(args):
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    data = load_data(args)
    print(
        "a neural likelihood p(x|z) = softmax(Rz + b) has no exact E-step: p(z|x) needs "
        "the integral of p(x|z)p(z) over R^K, so we learn q(z|x) instead.\n"
    )
    rows = run_inference(args, data)
    print(
        f"\n{'model':<26} {'trained by':<28} {'ppl (bound)':>12} {'ppl (IW/exact)':>15} "
        f"{'seconds':>8}"
    )
    for model, method, bound, iw, seconds in rows:
        print(f"{model:<26} {method:<28} {bound:>12.1f} {iw:>15.1f} {seconds:>8.1f}")
    plot(rows, args.plot)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--samples", type=int, default=50, help="importance samples")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="lecture_story.png")
    main(parser.parse_args())
