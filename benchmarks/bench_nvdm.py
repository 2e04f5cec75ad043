"""NVDM training speed on 20 Newsgroups: Pyro SVI against a hand-written PyTorch step.

Prints seconds per epoch of the library's SVI step, and the ratio of a Pyro SVI step
(TraceMeanField_ELBO) to a hand-written PyTorch loss-and-Adam-step for the same networks on the
same batches. The two are timed in alternating rounds of one run, since these machines are
noisy; the medians are reported.

    python benchmarks/bench_nvdm.py [--batch-size 64] [--threads 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch
from pyro.infer import SVI, TraceMeanField_ELBO

from ppl_vae.data import data_root, load_documents
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM


def pytorch_step(model, guide, optimizer, x):
    """The same objective written by hand: -(E_q log p(x|z) - KL(q || N(0, I)))."""
    loc, scale = guide.encode(x)
    z = loc + scale * torch.randn_like(loc)
    rec = (x * torch.log_softmax(model.decoder(z), -1)).sum()
    kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1 - 2 * scale.log()).sum()
    loss = kl - rec
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def main(args):
    torch.set_num_threads(args.threads)
    pyro.enable_validation(args.validate)
    data = load_documents(data_root() / "20news")
    V = data.train.vocab_size
    batches = [
        data.train.make_batch(i)[0]
        for i in data.train.batch_indices(args.batch_size, True, torch.Generator().manual_seed(0))
    ]
    steps = len(batches)

    print(
        f"20News train: {len(data.train)} documents, {steps} steps of batch {args.batch_size}, "
        f"{args.threads} thread(s), Pyro validation {'on' if args.validate else 'off'}"
    )
    for fused in (False, True):
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        p_model, p_guide = NVDM(V, 50), DiagonalGaussianGuide(V, 50)
        adam = {"lr": 1e-3, "fused": fused}
        svi = SVI(p_model, p_guide, pyro.optim.Adam(adam), TraceMeanField_ELBO())
        t_model, t_guide = NVDM(V, 50), DiagonalGaussianGuide(V, 50)
        opt = torch.optim.Adam([*t_model.parameters(), *t_guide.parameters()], **adam)

        for x in batches[:10]:  # warm up both
            svi.step(x)
            pytorch_step(t_model, t_guide, opt, x)
        pyro_times, torch_times = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            for x in batches:
                svi.step(x)
            pyro_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            for x in batches:
                pytorch_step(t_model, t_guide, opt, x)
            torch_times.append(time.perf_counter() - t)
        p, q = statistics.median(pyro_times), statistics.median(torch_times)
        name = "fused Adam (the trainer's)" if fused else "default Adam"
        print(f"-- {name}, same optimizer settings on both sides")
        print(f"   Pyro SVI : {p:.3f} s per epoch ({1000 * p / steps:.2f} ms per step)")
        print(f"   PyTorch  : {q:.3f} s per epoch ({1000 * q / steps:.2f} ms per step)")
        print(f"   ratio Pyro / PyTorch: {p / q:.3f} (median of {args.rounds} alternating rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--validate", action="store_true", help="keep Pyro's validation on")
    main(parser.parse_args())
