"""Training speed of each NVDM guide on 20 Newsgroups, against the diagonal-Gaussian guide.

Every guide trains NVDM with the objective it uses in ``ppl-vae compare`` on the same batches;
the guides are timed in alternating rounds of one run (these machines are noisy) and the
median seconds per step are scaled to seconds per epoch. The ratio to the diagonal guide is
the figure to quote.

    python benchmarks/bench_guides.py [--guides diagonal,iaf,...] [--steps 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch
from bench_nvdm import pytorch_step  # noqa: E402  (a sibling script)
from pyro.infer import SVI

from ppl_vae.config import TrainConfig
from ppl_vae.data import data_root, load_documents
from ppl_vae.infer.objectives import make_objective
from ppl_vae.runs.registry import GUIDES, build, guide_class

DEFAULT_GUIDES = ",".join(GUIDES["nvdm"])


def main(args):
    torch.set_num_threads(args.threads)
    data = load_documents(data_root() / "20news")
    V = data.train.vocab_size
    order = data.train.batch_indices(args.batch_size, True, torch.Generator().manual_seed(0))
    batches = [data.train.make_batch(i) for i in order[: args.steps]]
    steps_per_epoch = len(order)
    guides = args.guides.split(",")
    runs = {}
    for name in guides:
        pyro.set_rng_seed(0)
        guide_cls = guide_class("nvdm", name)
        objective = guide_cls.default_objective
        config = TrainConfig(guide=name, objective=objective)
        model, guide = build(config, V)
        clip = {"clip_norm": guide_cls.default_clip_norm} if guide_cls.default_clip_norm else {}
        optim = pyro.optim.Adam({"lr": 1e-3, "fused": True}, clip_args=clip)
        svi = SVI(model, guide, optim, make_objective(objective))
        runs[name] = (svi, objective)
    pyro.set_rng_seed(0)
    t_model, t_guide = build(TrainConfig(), V)
    adam = torch.optim.Adam([*t_model.parameters(), *t_guide.parameters()], lr=1e-3, fused=True)
    hand = "pytorch (by hand)"
    print(
        f"20News: {steps_per_epoch} steps of batch {args.batch_size} per epoch; timing "
        f"{args.steps} steps x {args.rounds} rounds per guide, {args.threads} thread(s)"
    )
    times = {name: [] for name in [*guides, hand]}
    for name in guides:  # warm-up
        runs[name][0].step(*batches[0])
    for _ in range(args.rounds):
        start = time.perf_counter()
        for (x,) in batches:
            pytorch_step(t_model, t_guide, adam, x)
        times[hand].append((time.perf_counter() - start) / len(batches))
        for name in guides:
            svi = runs[name][0]
            start = time.perf_counter()
            for batch in batches:
                svi.step(*batch)
            times[name].append((time.perf_counter() - start) / len(batches))
    base = statistics.median(times[guides[0]])
    print(f"{'guide':<16} {'objective':<10} {'s/epoch':>8} {'ratio':>6}")
    for name in [*guides, hand]:
        per_step = statistics.median(times[name])
        objective = runs[name][1] if name in runs else "meanfield"
        print(
            f"{name:<16} {objective:<10} {per_step * steps_per_epoch:8.2f} {per_step / base:6.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guides", default=DEFAULT_GUIDES, help="the first is the reference")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    main(parser.parse_args())
