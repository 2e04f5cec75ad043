"""A tale of two decoders (Bowman et al., 2016): KL collapse on the lecture's toy.

Sentences AAA, BBB and CCC, equally likely. Knowing which one is coming is worth log 3 = 1.10
nats. A bag-of-words decoder can only learn it from z, so its VAE uses z (KL about log 3). An
LSTM decoder can read the letter off the first word, so its VAE, trained plainly, lets the KL
go to 0: posterior collapse. KL annealing, word dropout (here: the inputless decoder) and free
bits each change that.

    python examples/kl_collapse.py [--epochs 40] [--plot kl_collapse.png]

Prints the final KL and active units of each regime, and saves KL against epoch for all of
them. See the README for the numbers it prints.
"""

from __future__ import annotations

import argparse
import logging
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pyro  # noqa: E402
import torch  # noqa: E402

from ppl_vae.config import TrainConfig  # noqa: E402
from ppl_vae.data.toy import abc_bags, abc_sentences  # noqa: E402
from ppl_vae.evaluation import evaluate  # noqa: E402
from ppl_vae.guides import DiagonalGaussianGuide, LSTMEncoderGuide  # noqa: E402
from ppl_vae.models import NVDM, SentenceVAE  # noqa: E402
from ppl_vae.training import train  # noqa: E402

LATENT = 2


def regimes(epochs: int) -> dict[str, dict]:
    """name -> (decoder kind, model kwargs, training-config overrides)."""
    lstm = {"embedding_dim": 8, "hidden_dim": 16}
    return {
        "bag-of-words decoder": {"kind": "bow", "model": {}, "config": {}},
        "LSTM decoder": {"kind": "lstm", "model": lstm, "config": {}},
        "LSTM + sigmoid KL annealing": {
            "kind": "lstm",
            "model": lstm,
            "config": {"anneal": "sigmoid", "anneal_epochs": epochs / 2},
        },
        "LSTM + word dropout 1.0 (inputless)": {
            "kind": "lstm",
            "model": {**lstm, "word_dropout": 1.0},
            "config": {},
        },
        "LSTM + free bits 0.5/dim": {
            "kind": "lstm",
            "model": lstm,
            "config": {"objective": "free-bits", "free_bits": 0.5},
        },
    }


def load_data(args):
    return abc_bags(seed=args.seed), abc_sentences(seed=args.seed)


def run_inference(args, bags, sentences) -> dict[str, dict]:
    results = {}
    for name, spec in regimes(args.epochs).items():
        pyro.set_rng_seed(args.seed)
        data = bags if spec["kind"] == "bow" else sentences
        V = data.train.vocab_size
        if spec["kind"] == "bow":
            model = NVDM(V, LATENT)
            guide = DiagonalGaussianGuide(V, LATENT, hidden_sizes=(16,))
        else:
            model = SentenceVAE(V, LATENT, **spec["model"])
            guide = LSTMEncoderGuide(V, LATENT, embedding_dim=8, hidden_dim=16)
        config = TrainConfig(
            latent_dim=LATENT,
            epochs=args.epochs,
            batch_size=30,
            lr=args.lr,
            lr_decay=1.0,
            seed=args.seed,
            **spec["config"],
        )
        result = train(model, guide, data.train, data.valid, config, progress=False)
        ev = evaluate(model, guide, data.test, num_samples=50)
        results[name] = {
            "kl_curve": [r["valid_kl"] for r in result.history],
            "kl": ev.kl,
            "active_units": ev.active_units,
            "nll_iw": ev.nll_iw,
        }
    return results


def plot(results, path):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in results.items():
        ax.plot(range(1, len(r["kl_curve"]) + 1), r["kl_curve"], label=name)
    ax.axhline(math.log(3), color="grey", linestyle=":", label="log 3")
    ax.set(
        xlabel="epoch",
        ylabel="validation KL(q(z|x) || p(z)), nats",
        title="AAA / BBB / CCC: who uses z?",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {path}")


def main(args):
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    bags, sentences = load_data(args)
    results = run_inference(args, bags, sentences)
    print(f"{'regime':<38} {'test KL':>8} {'active units':>13} {'test -log p(x)':>15}")
    for name, r in results.items():
        print(f"{name:<38} {r['kl']:>8.3f} {r['active_units']:>13d} {r['nll_iw']:>15.3f}")
    print(f"(log 3 = {math.log(3):.3f} nats: the information in the choice of letter)")
    plot(results, args.plot)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="kl_collapse.png")
    main(parser.parse_args())
