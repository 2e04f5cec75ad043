"""LDA and DocNADE training speed on 20 Newsgroups: the trainer's step against a hand-written
PyTorch step for the same networks.

For each model, the same batches are stepped two ways, with the same fused Adam (lr 1e-3):

* the trainer's step (:func:`ppl_vae.training.optimizer_step`: the module-local objective of
  ``ppl-vae train lda`` / ``docnade`` under Pyro's ``module_local_params``, ``backward``, one
  ``torch.optim.Adam``), as :func:`ppl_vae.training.train` takes it;
* the same loss written by hand in PyTorch: for LDA, ``theta ~ Dirichlet(encoder(x))``
  (reparameterized), ``-(sum_v x_v log (theta^T beta)_v - KL)``; for DocNADE, the library's own
  ``log_likelihood`` (the network is the model: there is nothing else to write by hand).

Rounds alternate (these machines are noisy) and medians are reported, as seconds per epoch
(the whole training split) and the ratio of the trainer's step to the hand-written one.

    python benchmarks/bench_topic_models.py [--threads 1] [--rounds 3] [--batches 60]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.data import data_root, load_documents
from ppl_vae.guides import DirichletGuide, NoLatentGuide
from ppl_vae.infer.objectives import make_objective
from ppl_vae.models import LDA, DocNADE
from ppl_vae.training import make_optimizer, optimizer_step


def lda_step(model: LDA, guide: DirichletGuide, optimizer, x: torch.Tensor) -> float:
    concentration = guide.encode(x)
    q = torch.distributions.Dirichlet(concentration)
    theta = q.rsample()
    rec = (x * torch.log((theta @ model.topics()).clamp_min(1e-38))).sum()
    prior = torch.distributions.Dirichlet(torch.full_like(concentration, model.alpha))
    loss = torch.distributions.kl_divergence(q, prior).sum() - rec
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def docnade_step(model: DocNADE, optimizer, x: torch.Tensor) -> float:
    loss = -model.log_likelihood(x).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def bench(name: str, V: int, batches: list, per_epoch: float, rounds: int) -> None:
    """Time ``name``'s trainer step against its hand-written step, in alternating rounds."""
    torch.manual_seed(0)
    if name == "lda":
        pair = lambda: (LDA(V, 50), DirichletGuide(V, 50))  # noqa: E731
    else:
        pair = lambda: (DocNADE(V, 50), NoLatentGuide())  # noqa: E731
    t_model, t_guide = pair()
    objective = "meanfield" if name == "lda" else "trace"
    params = [*t_model.parameters(), *t_guide.parameters()]
    trainer = (
        make_objective(objective)(t_model, t_guide),
        make_optimizer(params, TrainConfig(lr=1e-3)),
    )
    h_model, h_guide = pair()
    opt = torch.optim.Adam([*h_model.parameters(), *h_guide.parameters()], lr=1e-3, fused=True)
    if name == "lda":
        hand = lambda x: lda_step(h_model, h_guide, opt, x)  # noqa: E731
    else:
        hand = lambda x: docnade_step(h_model, opt, x)  # noqa: E731
    sides = {
        "trainer step": (lambda x: optimizer_step(*trainer, (x,), 1.0, None), LOCAL),
        "hand-written PyTorch": (hand, {}),
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
        print(f"{name:>8} {side:>22}: {t:.1f} s per epoch")
    print(f"{name:>8} trainer / hand-written: "
          f"{med['trainer step'] / med['hand-written PyTorch']:.3f}")  # fmt: skip


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
    for name in ("lda", "docnade"):
        bench(name, V, batches, per_epoch, args.rounds)
    print(f"(medians of {args.rounds} alternating rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=60, help="batches timed per round")
    main(parser.parse_args())
