"""What the training loop measures besides the loss: validation, KL, mutual information, and
loss spikes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from pyro import poutine

from ppl_vae.config import TrainConfig
from ppl_vae.evaluation.estimates import evaluate
from ppl_vae.evaluation.information import guide_mutual_information, mutual_information
from ppl_vae.ops.rng import own_rng
from ppl_vae.ops.traces import particle_terms

#: an epoch whose mean training loss exceeds this multiple of the median of the earlier epochs'
#: is reported as a loss spike (a warning in the log and in ``metrics.jsonl``). Annealing and
#: noise move an epoch's loss by percents; a diverging guide moves it by tens of times.
SPIKE_FACTOR = 2.0


def validation_mutual_information(
    guide, data, device, max_items: int = 100, seed: int | None = None
) -> float | None:
    """He et al.'s ``I(x; z)`` on ``data``: from ``guide.encode`` when it gives a diagonal
    Gaussian's ``(loc, scale)`` (all of ``data``), else from the guide's trace on the first
    ``max_items`` items (scoring every pair of a batch can be costly, e.g. a flow's inverse);
    None for a guide without a ``"z"`` site. Shared out over the ranks of a distributed job."""
    if getattr(guide, "deterministic", False):  # a point mass: I(x; z) is not finite
        return None
    args = next(iter(data.eval_batches(2, device)))[0]
    with torch.no_grad(), poutine.block(), own_rng(0):  # a look at the guide's output
        encode = getattr(guide, "encode", None)
        first = encode(*args) if encode is not None else None
        if isinstance(first, tuple) and len(first) == 2 and first[0].shape == first[1].shape:
            return mutual_information(encode, data.eval_batches(500, device), seed)
        if "z" not in poutine.trace(guide).get_trace(*args).nodes:
            return None
    head = data.make_batch(np.arange(min(max_items, len(data))), device)
    return guide_mutual_information(guide, [(tuple(head), None)], seed=seed)


def validation_record(model, guide, data, num_samples: int, device, seed: int) -> dict:
    """The validation figures of one epoch (ELBO, KL, perplexities, active units, and the
    mutual information where the guide has a ``"z"``), drawn with common random numbers: the
    same draws every epoch, seeded per batch, so they are the same at any world size."""
    summary = evaluate(model, guide, data, num_samples, device=device, seed=seed)  # eval mode
    mi = validation_mutual_information(guide, data, device, seed=seed + 1)
    record = {} if mi is None else {"valid_mi": mi}
    record.update(
        valid_elbo=summary.elbo,
        valid_kl=summary.kl,
        valid_ppl_doc_elbo=summary.ppl_doc_elbo,
        valid_ppl_corpus_elbo=summary.ppl_corpus_elbo,
        valid_active_units=summary.active_units,
    )
    return record


#: a validation KL below this many nats per item, or no active unit, is reported as KL collapse
COLLAPSE_KL = 0.5
COLLAPSE_CURE = (
    "try --objective free-bits --free-bits 0.2, --anneal sigmoid --anneal-epochs E, or "
    "--word-dropout 0.3 (sentence models)"
)


def collapse_cure(config: TrainConfig | None = None, model=None) -> str:
    """The flags to try against KL collapse: :data:`COLLAPSE_CURE` without a
    :class:`~ppl_vae.config.TrainConfig`; with one, each remedy the run does not use yet, or a
    stronger setting of one it uses (word dropout if ``model`` has it)."""
    if config is None:
        return COLLAPSE_CURE
    tries = []
    if config.objective != "free-bits":
        tries.append("--objective free-bits --free-bits 0.2")
    else:
        tries.append(f"a larger --free-bits (this run: {config.free_bits:g})")
    if config.anneal == "constant":
        tries.append("--anneal sigmoid --anneal-epochs E")
    elif config.anneal != "cyclical":
        tries.append("--anneal cyclical")
    p = getattr(model, "word_dropout", config.model_kwargs.get("word_dropout"))
    if p is not None:
        tries.append(
            "--word-dropout 0.3" if p == 0 else f"a higher --word-dropout (this run: {p:g})"
        )
    tries.append("more epochs or a wider encoder")
    return "try " + ", ".join(tries[:-1]) + ", or " + tries[-1]


def collapse_warning(
    kl: float, active_units: int, config: TrainConfig | None = None, model=None
) -> str | None:
    """A warning naming the cure (:func:`collapse_cure` for the run) if the KL (nats per
    item) or the active units say that the model ignores ``z``; None if not. A KL above
    :data:`COLLAPSE_KL` with no active unit is collapse too: free bits let a posterior spend
    its free nats without depending on the input."""
    if kl >= COLLAPSE_KL and active_units > 0:
        return None
    return (
        f"KL collapse: KL {kl:.3g} nats per item and {active_units} active unit(s): the "
        f"decoder ignores z; {collapse_cure(config, model)}"
    )


def loss_spike(loss: float, earlier: list[float], factor: float = SPIKE_FACTOR) -> str | None:
    """A warning if the epoch's mean training ``loss`` is more than ``factor`` times the median
    of the ``earlier`` epochs' (for a negative median, more than ``factor - 1`` times its size
    above it); None if not, or if there is no earlier epoch."""
    if not earlier:
        return None
    median = float(np.median(earlier))
    if loss - median <= (factor - 1.0) * abs(median):
        return None
    return (
        f"training loss {loss:.4g} is {loss / median if median > 0 else math.inf:.3g} times the "
        f"median of the earlier epochs ({median:.4g}): training may be diverging; try "
        "--clip-norm or a lower --lr"
    )


def batch_kl(model: Callable, guide: Callable, *args) -> float:
    """Mean KL(q(z|x) || p(z)) over a batch (analytic where possible), without gradients."""
    with torch.no_grad(), poutine.block():
        return float(particle_terms(model, guide, *args).kl.mean())


def finite(*modules: torch.nn.Module) -> bool:
    """Whether every parameter of ``modules`` is finite."""
    return all(torch.isfinite(p).all() for m in modules for p in m.parameters())
