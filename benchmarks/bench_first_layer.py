"""Where an NVDM epoch goes on this CPU: the encoder's first layer three ways, and AdamW.

The issue's goal was 0.5 s per 20News epoch (168 steps of batch 64) on 2 cores. This times,
per epoch, in alternating rounds (medians):

* the first layer's forward and weight gradient, ``log1p(x) W^T + b`` over a dense batch
  (what the trainer runs), over a CSR batch (``--sparse-input on``), and as
  ``F.embedding_bag`` over the non-zero entries with their ``log1p`` counts as weights, on a
  ``(V, H)`` copy of the weights (the gather a sparse layer would do at best);
* fused AdamW's update of all of NVDM's and its encoder's weights (1.3M), the floor of every
  step that keeps the optimizer exact: decoupled weight decay and Adam's moments move every
  weight, whether its gradient is zero or not;
* a whole hand-written step (dense), for scale.

    python benchmarks/bench_first_layer.py [--threads 1,2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from bench_nvdm import pytorch_step

from ppl_vae.data import data_root, load_documents
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM


def main(args) -> None:
    data = load_documents(data_root() / "20news")
    V = data.train.vocab_size
    gen = torch.Generator().manual_seed(0)
    batches = [data.train.make_batch(i)[0] for i in data.train.batch_indices(64, True, gen)]
    torch.manual_seed(0)
    model, guide = NVDM(V, 50), DiagonalGaussianGuide(V, 50)
    first = next(m for m in guide.modules() if isinstance(m, torch.nn.Linear))  # (500, V)
    W = first.weight.detach().clone().requires_grad_()
    Wt = first.weight.detach().t().contiguous().requires_grad_()  # (V, 500): rows to gather
    b = first.bias.detach().clone().requires_grad_()
    csr = [torch.log1p(x).to_sparse_csr() for x in batches]
    bags = []
    for x in batches:
        rows, cols = x.nonzero(as_tuple=True)
        offsets = torch.searchsorted(rows, torch.arange(x.shape[0]))
        bags.append((cols, offsets, torch.log1p(x[rows, cols])))

    def dense():
        for x in batches:
            W.grad = None
            F.linear(torch.log1p(x), W, b).sum().backward()

    def sparse():
        for xs in csr:
            W.grad = None
            (xs @ W.t() + b).sum().backward()

    def bag():
        for cols, offsets, weights in bags:
            Wt.grad = None
            h = F.embedding_bag(cols, Wt, offsets, mode="sum", per_sample_weights=weights)
            (h + b).sum().backward()

    params = [*model.parameters(), *guide.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    adamw = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, fused=True)

    def optimizer():
        for _ in batches:
            adamw.step()

    h_model, h_guide = NVDM(V, 50), DiagonalGaussianGuide(V, 50)
    h_opt = torch.optim.AdamW([*h_model.parameters(), *h_guide.parameters()], lr=1e-3,
                              weight_decay=0.05, fused=True)  # fmt: skip

    def whole_step():
        for x in batches:
            pytorch_step(h_model, h_guide, h_opt, x)

    sides = {
        "first layer, dense (the trainer's)": dense,
        "first layer, CSR": sparse,
        "first layer, embedding_bag": bag,
        "AdamW update alone (1.3M weights)": optimizer,
        "whole hand-written step, dense": whole_step,
    }
    threads = [int(t) for t in args.threads.split(",")]
    times = {(t, name): [] for t in threads for name in sides}
    for t in threads:
        torch.set_num_threads(t)
        for fn in sides.values():
            fn()  # warm up
    for _ in range(args.rounds):
        for t in threads:
            torch.set_num_threads(t)
            for name, fn in sides.items():
                start = time.perf_counter()
                fn()
                times[t, name].append(time.perf_counter() - start)
    density = float(sum((x > 0).float().mean() for x in batches) / len(batches))
    print(f"20News: {len(batches)} steps of batch 64 per epoch, density {density:.3f}; "
          f"seconds per epoch, medians of {args.rounds} alternating rounds")  # fmt: skip
    for t in threads:
        for name in sides:
            print(f"{t} thread(s)  {name:>36}: {statistics.median(times[t, name]):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args())
