"""NVDM training speed on 20 Newsgroups: the trainer's step against a hand-written PyTorch step.

Times three ways of taking the same steps, for the same networks, on the same batches, with the
same optimizer (fused AdamW, lr 1e-3, weight decay 0.05: ``ppl-vae train nvdm``'s defaults):

* the trainer's step (:func:`ppl_vae.training.optimizer_step`: the module-local objective
  ``MeanFieldELBO()(model, guide)`` under Pyro's ``module_local_params``, ``backward``, then
  one ``torch.optim.AdamW`` over the model's and guide's parameters), as
  :func:`ppl_vae.training.train` takes it;
* Pyro's ``SVI`` with ``pyro.optim.AdamW`` (one optimizer per parameter tensor), for reference;
* the same objective written by hand in PyTorch.

They are timed in alternating rounds of one run, since these machines are noisy, and the
medians are reported. The last line is the ratio of the trainer's step to the hand-written one.

    python benchmarks/bench_nvdm.py [--batch-size 64] [--threads 2] [--rounds 5]
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
from ppl_vae.training import make_optimizer, optimizer_step


def pytorch_step(model, guide, optimizer, x):
    """The same objective written by hand: -(E_q log p(x|z) - KL(q || N(0, I)))."""
    loc, scale = guide.encode(x)
    z = loc + scale * torch.randn_like(loc)
    rec = (x * torch.log_softmax(model.decoder(z), -1)).sum()
    return gaussian_vae_step(loc, scale, rec, optimizer)


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
    adamw = {"lr": 1e-3, "weight_decay": 0.05, "fused": True}
    config = TrainConfig(lr=1e-3, weight_decay=0.05)

    def pair():
        return NVDM(V, 50), DiagonalGaussianGuide(V, 50)

    torch.manual_seed(0)
    t_model, t_guide = pair()
    params = [*t_model.parameters(), *t_guide.parameters()]
    trainer = (make_objective("meanfield")(t_model, t_guide), make_optimizer(params, config))
    s_model, s_guide = pair()
    svi = SVI(s_model, s_guide, pyro.optim.AdamW(adamw), TraceMeanField_ELBO())
    h_model, h_guide = pair()
    opt = torch.optim.AdamW([*h_model.parameters(), *h_guide.parameters()], **adamw)
    local = {"module_local_params": True}
    sides = {  # each side's step and the Pyro settings it runs under
        "trainer step": (lambda x: optimizer_step(*trainer, (x,), 1.0, None), local),
        "Pyro SVI + pyro.optim": (svi.step, {}),
        "hand-written PyTorch": (lambda x: pytorch_step(h_model, h_guide, opt, x), {}),
    }
    for step, settings in sides.values():  # warm up
        with pyro.settings.context(**settings):
            for x in batches[:10]:
                step(x)
    times = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, (step, settings) in sides.items():
            with pyro.settings.context(**settings):
                t = time.perf_counter()
                for x in batches:
                    step(x)
                times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"{name:>22}: {t:.3f} s per epoch ({1000 * t / steps:.2f} ms per step)")
    print(f"(medians of {args.rounds} alternating rounds)")
    print(f"SVI + pyro.optim step / hand-written PyTorch step: "
          f"{med['Pyro SVI + pyro.optim'] / med['hand-written PyTorch']:.3f}")  # fmt: skip
    print(f"trainer step / hand-written PyTorch step: "
          f"{med['trainer step'] / med['hand-written PyTorch']:.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--validate", action="store_true", help="keep Pyro's validation on")
    main(parser.parse_args())
