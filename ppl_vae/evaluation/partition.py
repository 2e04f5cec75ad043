"""Held-out evaluation of a model with an intractable partition function: the Replicated
Softmax.

``log P(x) = -F(x) - log Z_N`` for each document, with ``log Z_N`` computed exactly by
enumerating the hidden states when there are few of them
(:meth:`~ppl_vae.models.ReplicatedSoftmax.exact_log_partition`), else estimated by annealed
importance sampling (:func:`~ppl_vae.infer.ais.ais_log_partition`), once for every length of
the corpus. With AIS, each length's ``log Z_N`` is raised to the importance-sampling estimate
from the mixture of the corpus's posteriors
(:func:`~ppl_vae.infer.importance_partition.posterior_mixture_log_partition`) where that is
larger: both are stochastic under-estimates, so the larger is the closer, and the perplexity
errs on the pessimistic side of either; the figures from each alone are reported beside it.
Both estimate ``Z_N`` without bias whatever their proposal (here the evaluated split's
posteriors, which changes the estimator's variance, not its target), so by Markov's
inequality each over-estimates ``log Z_N`` by ``t`` nats or more with probability at most
``exp(-t)``, and their maximum with probability at most ``2 exp(-t)``.
The perplexities are the library's usual ones
(:func:`~ppl_vae.ops.metrics.perplexity_per_document`, :func:`~ppl_vae.ops.metrics.
perplexity_corpus`); :func:`~ppl_vae.evaluation.evaluate` reports them as ``ppl_doc_ais`` and
``ppl_corpus_ais`` (or ``*_exact``), with the AIS settings and the spread of ``log Z`` over
the runs.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ppl_vae.infer.ais import RUNS, STEPS, ais_log_partition
from ppl_vae.infer.importance_partition import SAMPLES as IS_SAMPLES
from ppl_vae.infer.importance_partition import posterior_mixture_log_partition
from ppl_vae.ops.metrics import ItemEstimates, perplexity_corpus, perplexity_per_document
from ppl_vae.ops.rng import own_rng

logger = logging.getLogger(__name__)

#: with ``partition="auto"``, enumerate the hidden states up to this many hidden units
EXACT_AUTO = 16
#: draws of ``z ~ P(z | x)`` for the reported ``E[log P(x | z)]`` and KL
KL_SAMPLES = 10


def applies(model) -> bool:
    """Whether ``model`` is scored here: it declares its partition function intractable."""
    return bool(getattr(model, "intractable_partition", False))


@torch.no_grad()
def estimate_unnormalized(
    model,
    data,
    batch_size: int = 500,
    device: str | torch.device = "cpu",
    seed: int = 0,
    partition: str = "auto",
    ais_runs: int = RUNS,
    ais_steps: int = STEPS,
    progress: bool = False,
) -> tuple[ItemEstimates, dict]:
    """Per-document ``log P(x)`` of ``data`` and what it was computed with.

    :param partition: ``"exact"`` (enumeration), ``"ais"``, or ``"auto"``: exact up to
        :data:`EXACT_AUTO` hidden units, AIS above.
    :param seed: seeds AIS and the KL draws, on a fork of torch's RNG.
    :returns: the estimates (``elbo`` and ``log_px`` both ``log P(x)``; ``log_likelihood`` is
        ``E_{P(z|x)}[log P(x | z)]`` and ``kl`` is it minus ``log P(x)`` (Bayes), from
        :data:`KL_SAMPLES` draws; the latent means are ``P(z | x)``), and a dict of the
        estimator's settings and the spread of ``log Z`` over the AIS runs.
    """
    if partition not in ("auto", "exact", "ais"):
        raise ValueError(f"partition must be auto, exact or ais, not {partition!r}")
    model.eval()
    xs, tokens = [], []
    for args, tok in data.eval_batches(batch_size, device):
        xs.append(args[0])
        tokens.append(torch.as_tensor(tok, dtype=torch.float64))
    x = torch.cat(xs) if xs else torch.zeros(0, model.vocab_size)
    n = torch.cat(tokens).numpy() if tokens else np.zeros(0)
    lengths = np.round(x.sum(-1).double().cpu().numpy()).astype(np.int64)
    exact = partition == "exact" or (partition == "auto" and model.hidden_dim <= EXACT_AUTO)
    with own_rng(seed):
        if exact:
            table = model.exact_log_partition(lengths.tolist())
            info = {"estimator": "exact"}
        else:
            logger.info("AIS: %d runs, %d temperatures for the first word, lengths up to %d",
                        ais_runs, ais_steps, lengths.max())  # fmt: skip
            est = ais_log_partition(model, int(lengths.max()), num_runs=ais_runs,
                                    steps=ais_steps, progress=progress)  # fmt: skip
            distinct = np.unique(lengths)
            ais_z = est.log_z(distinct)
            is_z, ess = posterior_mixture_log_partition(model, x, distinct)
            table = dict(zip(distinct.tolist(), np.maximum(ais_z, is_z).tolist()))
            spread, se = est.spread(distinct), est.standard_error(distinct)
            counts = np.array([(lengths == d).sum() for d in distinct])
            info = {
                "estimator": "ais",
                "ais_runs": ais_runs,
                "ais_steps": ais_steps,
                "ais_temperatures": est.num_temperatures,
                # over the documents: sd of log w over the runs, and the estimate's error
                "log_z_spread_mean": float((spread * counts).sum() / counts.sum()),
                "log_z_spread_max": float(spread.max()),
                "log_z_standard_error_mean": float((se * counts).sum() / counts.sum()),
                "log_z_standard_error_max": float(se.max()),
                # the posterior-mixture IS estimate, and where it raised AIS's log Z
                "is_samples": IS_SAMPLES,
                "is_ess_min": float(ess.min()),
                "documents_with_log_z_from_is": int(counts[is_z > ais_z].sum()),
                "log_z_raise_mean": float(
                    (np.maximum(is_z - ais_z, 0) * counts).sum() / counts.sum()
                ),
            }
            free = -model.free_energy(x).double().cpu().numpy()
            for name, z in (("ais_alone", ais_z), ("is_alone", is_z)):
                by_n = dict(zip(distinct.tolist(), z.tolist()))
                lp = free - np.array([by_n[int(k)] for k in lengths])
                info[f"ppl_doc_{name}"] = perplexity_per_document(lp, n)
                info[f"ppl_corpus_{name}"] = perplexity_corpus(lp, n)
        log_z = torch.tensor([table[int(k)] for k in lengths], dtype=torch.float64)
        log_px = (-model.free_energy(x).double().cpu() - log_z).numpy()
        probs = model.hidden_probs(x)
        ll = torch.zeros(len(x), dtype=torch.float64)
        for _ in range(KL_SAMPLES):
            z = torch.bernoulli(probs)
            ll += (x * torch.log_softmax(model.visible_logits(z), -1)).sum(-1).double().cpu()
        ll = (ll / KL_SAMPLES).numpy()
    est_items = ItemEstimates(
        log_px, log_px, ll - log_px, ll, probs.double().cpu().numpy(), n, 0, exact=exact
    )
    return est_items, info
