"""NVDM training speed on 20 Newsgroups: the trainer's step against a hand-written PyTorch step.

Times three ways of taking the same steps, for the same networks, on the same batches, with the
same optimizer (fused AdamW, lr 1e-3, weight decay 0.05: ``ppl-vae train nvdm``'s defaults),
with the encoder's first layer fed dense and sparse (CSR) batches, at 1 and 2 threads:

* the trainer's step (:func:`ppl_vae.training.optimizer_step`: the module-local objective
  ``MeanFieldELBO()(model, guide)`` under Pyro's ``module_local_params``, ``backward``, then
  one ``torch.optim.AdamW`` over the model's and guide's parameters), as
  :func:`ppl_vae.training.train` takes it;
* Pyro's ``SVI`` with ``pyro.optim.AdamW`` (one optimizer per parameter tensor), for reference;
* the same objective written by hand in PyTorch;
* AdamW's update alone, with the gradients in place: the floor of any step that keeps the
  optimizer exact, since decoupled weight decay and Adam's moments touch every weight (the
  sparse first layer cannot skip it).

They are timed in alternating rounds of one run, since these machines are noisy, and the
medians are reported. The last line is the ratio of the trainer's step to the hand-written one
with the same input, the largest over inputs and thread counts.

    python benchmarks/bench_nvdm.py [--batch-size 64] [--threads 1,2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch
from baseline import gaussian_vae_step
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.config import TrainConfig
from ppl_vae.data import data_root, load_documents
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.infer.objectives import make_objective
from ppl_vae.models import NVDM
from ppl_vae.ops.count_input import set_sparse_input
from ppl_vae.training import make_optimizer, optimizer_step


def pytorch_step(model, guide, optimizer, x):
    """The same objective written by hand: -(E_q log p(x|z) - KL(q || N(0, I)))."""
    loc, scale = guide.encode(x)
    z = loc + scale * torch.randn_like(loc)
    rec = (x * torch.log_softmax(model.decoder(z), -1)).sum()
    return gaussian_vae_step(loc, scale, rec, optimizer)


def main(args):
    pyro.enable_validation(args.validate)
    data = load_documents(data_root() / "20news")
    V = data.train.vocab_size
    batches = [
        data.train.make_batch(i)[0]
        for i in data.train.batch_indices(args.batch_size, True, torch.Generator().manual_seed(0))
    ]
    steps = len(batches)
    threads = [int(t) for t in args.threads.split(",")]
    density = float(sum((x > 0).float().mean() for x in batches) / steps)
    print(
        f"20News train: {len(data.train)} documents, {steps} steps of batch {args.batch_size} "
        f"(density {density:.3f}), threads {threads}, Pyro validation "
        f"{'on' if args.validate else 'off'}"
    )
    adamw = {"lr": 1e-3, "weight_decay": 0.05, "fused": True}
    config = TrainConfig(lr=1e-3, weight_decay=0.05)

    def pair(sparse: bool):
        model, guide = NVDM(V, 50), DiagonalGaussianGuide(V, 50)
        set_sparse_input(sparse, guide)
        return model, guide

    torch.manual_seed(0)
    sides = {}  # each side's step and the Pyro settings it runs under
    local = {"module_local_params": True}
    for sparse in (False, True):
        kind = "sparse" if sparse else "dense"
        t_model, t_guide = pair(sparse)
        params = [*t_model.parameters(), *t_guide.parameters()]
        trainer = (make_objective("meanfield")(t_model, t_guide), make_optimizer(params, config))
        h_model, h_guide = pair(sparse)
        opt = torch.optim.AdamW([*h_model.parameters(), *h_guide.parameters()], **adamw)
        sides[f"trainer step, {kind}"] = (
            lambda x, t=trainer: optimizer_step(*t, (x,), 1.0, None),
            local,
        )
        sides[f"hand-written PyTorch, {kind}"] = (
            lambda x, m=h_model, g=h_guide, o=opt: pytorch_step(m, g, o, x),
            {},
        )
    # the floor of any step that keeps AdamW exact: its update of every weight, with the
    # gradients already there (weight decay and the moments touch all 1.3M weights each step)
    f_model, f_guide = pair(False)
    floor_params = [*f_model.parameters(), *f_guide.parameters()]
    for p in floor_params:
        p.grad = torch.randn_like(p)
    floor = torch.optim.AdamW(floor_params, **adamw)
    sides["AdamW update alone, dense"] = (lambda x, o=floor: o.step(), {})
    s_model, s_guide = pair(False)
    svi = SVI(s_model, s_guide, pyro.optim.AdamW(adamw), TraceMeanField_ELBO())
    sides["Pyro SVI + pyro.optim, dense"] = (svi.step, {})
    times = {(t, name): [] for t in threads for name in sides}
    for t in threads:
        torch.set_num_threads(t)
        for step, settings in sides.values():  # warm up
            with pyro.settings.context(**settings):
                for x in batches[:10]:
                    step(x)
    for _ in range(args.rounds):
        for t in threads:
            torch.set_num_threads(t)
            for name, (step, settings) in sides.items():
                with pyro.settings.context(**settings):
                    start = time.perf_counter()
                    for x in batches:
                        step(x)
                    times[t, name].append(time.perf_counter() - start)
    med = {key: statistics.median(ts) for key, ts in times.items()}
    print(f"(medians of {args.rounds} alternating rounds; ratio: to the hand-written step with "
          "the same input)")  # fmt: skip
    for t in threads:
        for name in sides:
            kind = name.rsplit(", ", 1)[1]
            ratio = med[t, name] / med[t, f"hand-written PyTorch, {kind}"]
            ms = 1000 * med[t, name] / steps
            print(f"{t} thread(s)  {name:>30}: {med[t, name]:.3f} s per epoch "
                  f"({ms:.2f} ms per step), ratio {ratio:.3f}")  # fmt: skip
    for t in threads:
        gain = med[t, "trainer step, dense"] / med[t, "trainer step, sparse"]
        print(f"{t} thread(s): sparse input makes the trainer's epoch {gain:.2f}x as fast")
    worst = max(
        med[t, f"trainer step, {k}"] / med[t, f"hand-written PyTorch, {k}"]
        for t in threads
        for k in ("dense", "sparse")
    )
    print(
        f"trainer step / hand-written PyTorch step: {worst:.3f} (the largest of the "
        f"{2 * len(threads)} ratios above)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--validate", action="store_true", help="keep Pyro's validation on")
    main(parser.parse_args())
