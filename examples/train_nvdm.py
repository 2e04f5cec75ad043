"""Train NVDM (Miao et al., 2016) with a hand-written SVI loop, using only the public API.

    python examples/train_nvdm.py                          # embedded synthetic corpus
    python examples/train_nvdm.py --data ../shared/data/20news --epochs 100

Swap the guide for any other with the same signature; the loop does not change.
"""

from __future__ import annotations

import argparse
import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pyro  # noqa: E402
import torch  # noqa: E402
from pyro.infer import SVI, TraceMeanField_ELBO  # noqa: E402

from ppl_vae.data import load_documents  # noqa: E402
from ppl_vae.evaluation import evaluate  # noqa: E402
from ppl_vae.evaluation.topics import top_words  # noqa: E402
from ppl_vae.guides import DiagonalGaussianGuide  # noqa: E402
from ppl_vae.models import NVDM  # noqa: E402


def load_data(args):
    return load_documents(args.data)  # None: the embedded synthetic corpus


def run_inference(args, data):
    V = data.train.vocab_size
    model = NVDM(vocab_size=V, latent_dim=args.latent_dim)
    guide = DiagonalGaussianGuide(vocab_size=V, latent_dim=args.latent_dim)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": args.lr}), TraceMeanField_ELBO())
    gen = torch.Generator().manual_seed(args.seed)
    losses = []
    for epoch in range(args.epochs):
        total = 0.0
        for idx in data.train.batch_indices(args.batch_size, shuffle=True, generator=gen):
            (x,) = data.train.make_batch(idx)
            total += svi.step(x)
        losses.append(total / len(data.train))
        print(f"epoch {epoch + 1:3d}  -ELBO per document {losses[-1]:.2f}")
    return model, guide, losses


def plot(losses, path):
    plt.plot(range(1, len(losses) + 1), losses)
    plt.xlabel("epoch")
    plt.ylabel("-ELBO per document (nats)")
    plt.savefig(path, dpi=100)
    print(f"saved {path}")


def main(args):
    logging.basicConfig(level=logging.WARNING)
    pyro.set_rng_seed(args.seed)
    data = load_data(args)
    model, guide, losses = run_inference(args, data)
    plot(losses, args.plot)
    result = evaluate(model, guide, data.test, num_samples=args.samples)
    print(
        f"test perplexity per document: ELBO {result.ppl_doc_elbo:.1f}, "
        f"importance-sampled ({args.samples} samples) {result.ppl_doc_iw:.1f}"
    )
    print(
        f"test perplexity over corpus: ELBO {result.ppl_corpus_elbo:.1f}, "
        f"importance-sampled {result.ppl_corpus_iw:.1f}"
    )
    print(f"KL {result.kl:.2f} nats, active units {result.active_units}")
    for k, words in enumerate(top_words(model.topic_weights(), data.vocab, 8)[:5]):
        print(f"z[{k}]: {' '.join(words)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="corpus directory (default: synthetic)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--latent-dim", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=100, help="importance samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="nvdm_loss.png")
    main(parser.parse_args())
