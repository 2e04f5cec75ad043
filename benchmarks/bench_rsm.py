"""Replicated Softmax speed on 20 Newsgroups: a CD-1 epoch and the AIS evaluation, each against
a hand-written PyTorch reference for the same operation, measured in the same run.

* **CD-1.** The same batches stepped two ways, with the same fused Adam (lr 1e-3): the
  trainer's step (:func:`ppl_vae.training.optimizer_step` on the module-local
  :class:`~ppl_vae.infer.contrastive_divergence.ContrastiveDivergence` objective, as ``ppl-vae
  train rsm`` takes it), and a hand-written CD-1 step on plain tensors (positive phase,
  one Gibbs step by ``torch.multinomial``, the three statistics, ``.grad`` set by hand, Adam).
* **AIS.** :func:`ppl_vae.infer.ais.ais_log_partition` against a hand-written loop of the same
  path (same schedule, same transitions), on the same model, for the lengths up to
  ``--ais-length`` with ``--ais-runs`` runs. The per-length estimates of the two agree within
  their noise (printed). The whole test set's evaluation time is then estimated from the
  library's own time per temperature, and with ``--full`` measured.

Rounds alternate (these machines are noisy) and medians are reported.

    python benchmarks/bench_rsm.py [--threads 1] [--rounds 3] [--batches 60] [--full]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import pyro
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.data import data_root, load_documents
from ppl_vae.guides import RSMConditionalGuide
from ppl_vae.infer.ais import SWEEPS_PER_WORD_SCALE, ais_log_partition, schedule
from ppl_vae.infer.objectives import make_objective
from ppl_vae.models import ReplicatedSoftmax
from ppl_vae.training import make_optimizer, optimizer_step


def hand_cd1_step(w, b, a, optimizer, x: torch.Tensor) -> float:
    """CD-1 on plain tensors: the update of the lecture's slide, as ``.grad``."""
    with torch.no_grad():
        n = x.sum(-1)
        ph0 = torch.sigmoid(n[:, None] * a + x @ w)
        z = torch.bernoulli(ph0)
        probs = torch.softmax(b + z @ w.T, -1)
        width = int(n.max())
        words = torch.multinomial(probs, width, replacement=True)
        keep = (torch.arange(width) < n[:, None]).float()
        xk = torch.zeros_like(x).scatter_add_(1, words, keep)
        phk = torch.sigmoid(n[:, None] * a + xk @ w)
        w.grad = -(x.T @ ph0 - xk.T @ phk)
        b.grad = -(x - xk).sum(0)
        a.grad = -(n[:, None] * (ph0 - phk)).sum(0)
        loss = -(x * torch.log_softmax(b + ph0 @ w.T, -1)).sum()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def hand_ais(w, b, a, max_length: int, runs: int, steps: int) -> np.ndarray:
    """The library's AIS path written out on plain tensors: ``(max_length, runs)`` log Z."""
    h = w.shape[1]
    base = torch.log_softmax(b, -1)
    z = torch.bernoulli(torch.full((runs, h), 0.5))
    log_w = torch.zeros(runs, dtype=torch.float64)
    out = np.empty((max_length, runs))

    def log_p(n, s, az, logits):  # float64 before scaling by n, as the library does
        full = n * torch.logsumexp(logits, -1).double() if n else 0.0
        extra = torch.logsumexp((1 - s) * base + s * logits, -1).double()
        return (n + s) * az.double() + full + extra

    logits, az = b + z @ w.T, z @ a
    previous = log_p(0, 0.0, az, logits)
    for n, s in schedule(max_length, steps):
        log_w += log_p(n, s, az, logits) - previous
        if s == 1.0:
            out[n] = (log_w + h * math.log(2.0)).numpy()
        k = SWEEPS_PER_WORD_SCALE
        if s < 1.0 or n < k or n % math.ceil(n / k) == 0:
            x = torch.zeros(runs, len(b))
            if n:
                words = torch.multinomial(torch.softmax(logits, -1), n, replacement=True)
                x.scatter_add_(1, words, torch.ones(runs, n))
            extra = torch.multinomial(torch.softmax((1 - s) * base + s * logits, -1), 1)
            x.scatter_add_(1, extra, torch.full((runs, 1), s))
            z = torch.bernoulli(torch.sigmoid((n + s) * a + x @ w))
            logits, az = b + z @ w.T, z @ a
        previous = log_p(n, s, az, logits)
    return out


def bench_cd(V: int, batches: list, per_epoch: float, rounds: int) -> None:
    torch.manual_seed(0)
    t_model = ReplicatedSoftmax(V, 50)
    trainer = (
        make_objective("cd")(t_model, RSMConditionalGuide(model=t_model)),
        make_optimizer(list(t_model.parameters()), TrainConfig(lr=1e-3)),
    )
    torch.manual_seed(0)
    h = ReplicatedSoftmax(V, 50)
    w, b, a = (p.detach().clone().requires_grad_() for p in (h.weight, h.visible_bias,
                                                              h.hidden_bias))  # fmt: skip
    opt = torch.optim.Adam([w, b, a], lr=1e-3, fused=True)
    sides = {
        "trainer step": (lambda x: optimizer_step(*trainer, (x,), 1.0, None), LOCAL),
        "hand-written PyTorch": (lambda x: hand_cd1_step(w, b, a, opt, x), {}),
    }
    for step, settings in sides.values():  # warm up
        with pyro.settings.context(**settings):
            for x in batches[:5]:
                step(x)
    times = {side: [] for side in sides}
    for _ in range(rounds):
        for side, (step, settings) in sides.items():
            with pyro.settings.context(**settings):
                t = time.perf_counter()
                for x in batches:
                    step(x)
                times[side].append(time.perf_counter() - t)
    med = {side: statistics.median(ts) * per_epoch for side, ts in times.items()}
    for side, t in med.items():
        print(f"CD-1 {side:>22}: {t:.2f} s per epoch")
    print(f"CD-1 trainer / hand-written: {med['trainer step'] / med['hand-written PyTorch']:.3f}")


def bench_ais(V: int, test_lengths: np.ndarray, args) -> None:
    torch.manual_seed(1)
    model = ReplicatedSoftmax(V, 50)
    with torch.no_grad():  # a model with structure, away from the uniform start
        model.weight.normal_(0.0, 0.1)
        model.visible_bias.normal_(0.0, 1.0)
    w, b, a = (p.detach().clone() for p in (model.weight, model.visible_bias, model.hidden_bias))
    L, R, K = args.ais_length, args.ais_runs, args.ais_steps
    times = {"library": [], "hand-written PyTorch": []}
    results = {}
    for _ in range(args.rounds):
        torch.manual_seed(2)
        t = time.perf_counter()
        results["library"] = ais_log_partition(model, L, num_runs=R, steps=K).run_log_z
        times["library"].append(time.perf_counter() - t)
        torch.manual_seed(2)
        t = time.perf_counter()
        results["hand"] = hand_ais(w, b, a, L, R, K)
        times["hand-written PyTorch"].append(time.perf_counter() - t)
    med = {side: statistics.median(ts) for side, ts in times.items()}
    temps = len(schedule(L, K))
    for side, t in med.items():
        print(f"AIS  {side:>22}: {t:.2f} s for lengths 1..{L} ({temps} temperatures, {R} runs)")
    print(f"AIS  library / hand-written: {med['library'] / med['hand-written PyTorch']:.3f}")
    lib = torch.logsumexp(torch.as_tensor(results["library"]), 1) - math.log(R)
    hand = torch.logsumexp(torch.as_tensor(results["hand"]), 1) - math.log(R)
    print(f"AIS  estimates agree: max |library - hand| over lengths = "
          f"{float((lib - hand).abs().max()):.2e} nats (same seed, same draws)")  # fmt: skip
    full = len(schedule(int(test_lengths.max()), K))
    print(f"test set: lengths up to {int(test_lengths.max())}, {full} temperatures")
    if args.full:
        torch.manual_seed(3)
        t = time.perf_counter()
        ais_log_partition(model, int(test_lengths.max()), num_runs=R, steps=K)
        print(f"AIS  library, whole test set: {time.perf_counter() - t:.1f} s")


LOCAL = {"module_local_params": True}


def main(args) -> None:
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    data = load_documents(data_root() / "20news")
    V = data.train.vocab_size
    order = data.train.batch_indices(64, True, torch.Generator().manual_seed(0))
    batches = [data.train.make_batch(i)[0] for i in order][: args.batches]
    per_epoch = len(order) / len(batches)
    print(f"20News train: {len(data.train)} documents, {len(order)} steps of batch 64 an epoch; "
          f"timing {len(batches)} of them, {args.threads} thread(s)")  # fmt: skip
    bench_cd(V, batches, per_epoch, args.rounds)
    bench_ais(V, data.test.lengths, args)
    print(f"(medians of {args.rounds} alternating rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=60, help="CD batches timed per round")
    parser.add_argument("--ais-length", type=int, default=300, help="AIS up to this length")
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-steps", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="also time AIS for the whole test set")
    main(parser.parse_args())
