"""Sentence-VAE training speed on the Penn Treebank: Pyro SVI against a hand-written PyTorch step.

Prints tokens per second (``<eos>`` included) of the library's SVI step with
``TraceMeanField_ELBO`` for Bowman et al.'s sentence VAE (embedding 353, LSTM 191, z 13,
batch 32, word dropout), and of a hand-written PyTorch loss-and-Adam-step for the same networks
on the same length-bucketed batches. The two are timed in alternating rounds of one run, since
these machines are noisy; the medians are reported, with their ratio (Pyro rate / PyTorch
rate; the target is >= 0.95).

    python benchmarks/bench_sentence.py [--steps 60] [--rounds 5] [--threads 1]

With ``--eval-batches N`` it times importance-sampled evaluation instead: ``--samples``
(100) samples for the first N length-sorted batches of 32 PTB test sentences, by the trace-based
loop over samples (:func:`~ppl_vae.evaluation.estimates.estimate_items`, the encoder re-run per
sample) and by the particle-batched estimator (:mod:`ppl_vae.evaluation.particles`, the
encoder once), in alternating rounds; tokens per second of each, their ratio, and the
estimated wall time of the whole test set. The batches are taken every ``len/N``-th one, so
that short and long sentences are both timed.

    python benchmarks/bench_sentence.py --eval-batches 12 --rounds 2 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch
from baseline import gaussian_vae_step
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.data import data_root
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.evaluation.estimates import estimate_items
from ppl_vae.evaluation.particles import estimate_particles
from ppl_vae.guides import LSTMEncoderGuide
from ppl_vae.models import SentenceVAE
from ppl_vae.models.lstm_decoder import length_mask


def pytorch_step(model, guide, optimizer, tokens, lengths):
    """The same objective by hand: -(E_q log p(x|z) - KL(q || N(0, I))), summed over sentences."""
    loc, scale = guide.encode(tokens, lengths)
    z = loc + scale * torch.randn_like(loc)
    logits = model.decode_logits(z, tokens)
    log_p = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    rec = (log_p * length_mask(lengths, tokens.shape[1])).sum()
    return gaussian_vae_step(loc, scale, rec, optimizer)


def build(vocab_size: int, word_dropout: float):
    model = SentenceVAE(vocab_size, word_dropout=word_dropout).train()
    guide = LSTMEncoderGuide(vocab_size).train()
    return model, guide


def evaluation(args, data, V) -> None:
    test = data.test
    every = list(test.eval_batches(32, by_length=True))
    stride = max(1, len(every) // args.eval_batches)
    batches = every[::stride][: args.eval_batches]
    tokens = sum(int(n.sum()) for _, n in batches)
    total = int(test.lengths.sum())
    print(f"PTB test: {len(every)} batches of 32 ({total} tokens); timing {len(batches)} of them "
          f"({tokens} tokens), {args.samples} samples, {args.rounds} rounds, {args.threads} "
          "thread(s)")  # fmt: skip
    torch.manual_seed(0)
    model, guide = build(V, 0.0)
    model.eval()
    guide.eval()
    sides = {
        "loop over samples (trace-based)": lambda: estimate_items(
            model, guide, batches, args.samples, seed=0),
        "particles batched, encoder once": lambda: estimate_particles(
            model, guide, batches, args.samples, seed=0, vocab_size=V),
    }  # fmt: skip
    times = {name: [] for name in sides}
    results = {}
    for _ in range(args.rounds):
        for name, run in sides.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    rates = {name: tokens / statistics.median(ts) for name, ts in times.items()}
    a, b = results.values()
    gap = float(abs(a.log_px - b.log_px).max())
    for name, rate in rates.items():
        print(f"{name:>32}: {rate:8.0f} tokens/s; whole test set about {total / rate / 60:.1f} "
              "min")  # fmt: skip
    print(f"largest difference of the two log p(x) estimates (same draws): {gap:.2e} nats")
    loop, fast = rates.values()
    print(f"particle-batched / loop tokens per second: {fast / loop:.2f}")


def main(args):
    torch.set_num_threads(args.threads)
    pyro.enable_validation(args.validate)
    data = load_sentence_data(str(data_root() / "ptb"), max_vocab=10002)
    V = len(data.vocab)
    if args.eval_batches:
        return evaluation(args, data, V)
    order = data.train.batch_indices(32, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = [data.train.make_batch(i) for i in order[: args.steps]]
    tokens = sum(int(lengths.sum()) for _, lengths in batches)
    print(
        f"PTB train: {len(order)} batches of 32 per epoch; timing {args.steps} batches "
        f"({tokens} tokens) x {args.rounds} rounds, {args.threads} thread(s), Pyro validation "
        f"{'on' if args.validate else 'off'}"
    )
    pyro.set_rng_seed(0)
    p_model, p_guide = build(V, args.word_dropout)
    svi = SVI(p_model, p_guide, pyro.optim.Adam({"lr": 1e-3, "fused": True}), TraceMeanField_ELBO())
    t_model, t_guide = build(V, args.word_dropout)
    adam = torch.optim.Adam([*t_model.parameters(), *t_guide.parameters()], lr=1e-3, fused=True)
    svi.step(*batches[0])  # warm-up: parameters registered, kernels loaded
    pytorch_step(t_model, t_guide, adam, *batches[0])

    pyro_times, torch_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for batch in batches:
            svi.step(*batch)
        pyro_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for batch in batches:
            pytorch_step(t_model, t_guide, adam, *batch)
        torch_times.append(time.perf_counter() - start)
    pyro_rate = tokens / statistics.median(pyro_times)
    torch_rate = tokens / statistics.median(torch_times)
    print(f"Pyro SVI:        {pyro_rate:8.0f} tokens/s")
    print(f"PyTorch by hand: {torch_rate:8.0f} tokens/s")
    print(f"ratio Pyro / PyTorch rate: {pyro_rate / torch_rate:.3f}")
    print(f"epoch estimate (Pyro): {data.train.lengths.sum() / pyro_rate:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="batches per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--word-dropout", type=float, default=0.3)
    parser.add_argument(
        "--eval-batches",
        type=int,
        default=0,
        help="time importance-sampled evaluation on this many test batches",
    )
    parser.add_argument("--samples", type=int, default=100, help="importance samples")
    parser.add_argument(
        "--validate", action="store_true", help="turn Pyro's validation on (slower)"
    )
    main(parser.parse_args())
