"""Mixture of multinomials on 20 Newsgroups: exact EM against SVI with enumeration.

Fits the mixture (Nigam et al., 2000) by MAP-EM (Dempster et al., 1977) for each K of
``--em-components``, and by SVI with the class enumerated (``TraceEnum_ELBO`` + ``AutoDelta``)
for each K of ``--svi-components``; prints the wall time per EM iteration and per SVI epoch and
the exact test perplexities, per document and over the corpus (Miao et al., 2016).

The Dirichlet smoothing ``--beta-concentration`` defaults to 2, chosen by ``--tune``: EM fits
on 90% of the training documents scored on the other 10% (never on test).

    OMP_NUM_THREADS=1 python benchmarks/bench_mixture.py [--threads 1] [--tune]
"""

from __future__ import annotations

import argparse

import torch

from ppl_vae.data import data_root, load_documents
from ppl_vae.infer.em import fit_em
from ppl_vae.infer.mixture_svi import fit_mixture_svi

TUNING_GRID = (1.01, 1.05, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0)


def tune(train, components, restarts, seed) -> float:
    """The concentration with the lowest per-document perplexity on a held-out train slice."""
    fit_part, held_out = train.split(0.1, seed=123)
    print(f"tuning beta_concentration on {len(held_out)} held-out training documents")
    best = {}
    for K in components:
        scores = {}
        for a in TUNING_GRID:
            fit = fit_em(fit_part, K, beta_concentration=a, restarts=restarts, seed=seed)
            scores[a] = fit.perplexity(held_out)["per_document"]
            print(f"  K={K:3d} beta_concentration={a:<5g} held-out ppl/doc {scores[a]:8.1f}")
        best[K] = min(scores, key=scores.get)
        print(f"  K={K}: best {best[K]}")
    return best


def report(name, fit, test) -> dict:
    ppl = fit.perplexity(test)
    steps = sum(fit.restart_iterations)
    unit = "iteration" if fit.method == "em" else "epoch"
    print(
        f"{name}: test perplexity per document {ppl['per_document']:.1f}, "
        f"corpus {ppl['corpus']:.1f} | {fit.iterations} {unit}s (best restart; "
        f"{steps} over {len(fit.restart_iterations)} restart(s)), {fit.seconds:.1f} s, "
        f"{fit.seconds / steps:.3f} s per {unit} | train objective {fit.history[-1]:.1f}"
    )
    return ppl


def main(args):
    torch.set_num_threads(args.threads)
    data = load_documents(data_root() / "20news", valid_fraction=0.0)
    train, test = data.train, data.test
    print(f"20News: {train} / test {test}; {args.threads} thread(s)")
    concentration = {K: args.beta_concentration for K in args.em_components}
    if args.tune:
        concentration = tune(train, args.em_components, args.restarts, args.seed)
    em_ppl = {}
    for K in args.em_components:
        fit = fit_em(
            train,
            K,
            beta_concentration=concentration[K],
            iterations=args.iterations,
            tol=args.tol,
            restarts=args.restarts,
            seed=args.seed,
        )
        em_ppl[K] = report(f"EM  K={K} a={concentration[K]}", fit, test)
    for K in args.svi_components:
        a = concentration.get(K, args.beta_concentration)
        fit = fit_mixture_svi(
            train,
            K,
            epochs=args.svi_epochs,
            batch_size=args.svi_batch_size,
            lr=args.svi_lr,
            seed=args.seed,
            restarts=args.svi_restarts,
            beta_concentration=a,
            track_objective=False,  # time the SVI steps alone
        )
        fit.history.append(fit.objective(train))
        ppl = report(f"SVI K={K} a={a}", fit, test)
        if K in em_ppl:
            ratio = ppl["per_document"] / em_ppl[K]["per_document"]
            print(f"SVI / EM per-document test perplexity at K={K}: {ratio:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--em-components", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--svi-components", type=int, nargs="*", default=[20])
    parser.add_argument("--beta-concentration", type=float, default=2.0)
    parser.add_argument("--tune", action="store_true", help="choose it on a train slice first")
    parser.add_argument("--restarts", type=int, default=3, help="EM restarts")
    parser.add_argument("--iterations", type=int, default=500, help="most EM iterations")
    parser.add_argument("--tol", type=float, default=1e-6, help="EM relative tolerance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--svi-epochs", type=int, default=20)
    parser.add_argument("--svi-batch-size", type=int, default=500)
    parser.add_argument("--svi-lr", type=float, default=0.2)
    parser.add_argument("--svi-restarts", type=int, default=1)
    main(parser.parse_args())
