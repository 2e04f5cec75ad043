r"""Exact EM for the mixture of multinomials, with MAP Dirichlet smoothing.

Dempster, Laird and Rubin (1977), "Maximum likelihood from incomplete data via the EM
algorithm", JRSS B 39; for this model, Nigam, McCallum, Thrun and Mitchell (2000), "Text
classification from labeled and unlabeled documents using EM", Machine Learning 39.

* **E-step**: the exact responsibilities ``r_dk = p(z_d = k | x_d)``, computed in log space
  (``log pi_k + sum_v x_dv log beta_kv``, normalized by a logsumexp), for all documents of a
  chunk at once.
* **M-step**: the MAP update from fractional counts. With priors ``Dir(alpha_pi)`` on ``pi``
  and ``Dir(alpha_beta)`` on each ``beta_k``, concentrations ``>= 1`` add ``alpha - 1``
  pseudo-counts:

  .. math::
      \pi_k \propto \sum_d r_{dk} + \alpha_\pi - 1, \qquad
      \beta_{kv} \propto \sum_d r_{dk} x_{dv} + \alpha_\beta - 1 .

Each iteration does not decrease the MAP objective ``sum_d log p(x_d) + log p(pi, beta)``,
which is logged and recorded in :attr:`MixtureFit.history`; the E-step makes the bound of
Neal and Hinton (1998) tight (:mod:`ppl_vae.ops.exact`), and the M-step maximizes it.
"""

from __future__ import annotations

import logging
import math

import torch
from tqdm.auto import tqdm

from ppl_vae.data.bow import BowCorpus
from ppl_vae.infer.mixture_fit import (
    DEFAULT_CHUNK_SIZE,
    MixtureFit,
    SparseChunk,
    best_of_restarts,
    chunk_log_joint,
    dirichlet_log_density,
    sparse_chunks,
)
from ppl_vae.ops.exact import log_evidence

logger = logging.getLogger(__name__)

INITS = ("random-partition", "random-soft")

#: a decrease of the objective by more than this relative amount is reported as an error
DECREASE_TOLERANCE = 1e-10


class SufficientStatistics:
    """Expected counts under the responsibilities: ``sum_d r_dk`` and ``sum_d r_dk x_dv``."""

    def __init__(self, num_components: int, vocab_size: int) -> None:
        self.class_counts = torch.zeros(num_components, dtype=torch.float64)
        self.word_counts = torch.zeros(num_components, vocab_size, dtype=torch.float64)

    def add(self, chunk: SparseChunk, responsibilities: torch.Tensor) -> None:
        self.class_counts += responsibilities.sum(0)
        self.word_counts += (chunk.counts_t @ responsibilities).T


def e_step(
    chunks: list[SparseChunk], log_weights: torch.Tensor, log_topics: torch.Tensor
) -> tuple[float, SufficientStatistics]:
    """The exact log-likelihood ``sum_d log p(x_d)`` of the current parameters, and the
    expected counts under the exact posterior."""
    K, V = log_topics.shape
    stats = SufficientStatistics(K, V)
    total = 0.0
    for chunk in chunks:
        log_joint = chunk_log_joint(chunk, log_weights, log_topics)
        log_px = log_evidence(log_joint)
        stats.add(chunk, (log_joint - log_px.unsqueeze(-1)).exp())
        total += float(log_px.sum())
    return total, stats


def m_step(
    stats: SufficientStatistics,
    weight_concentration: float,
    beta_concentration: float,
    previous_log_topics: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MAP ``(log pi, log beta)`` from expected counts.

    A class with no expected words and ``beta_concentration == 1`` has no unique maximizer;
    it keeps ``previous_log_topics`` (or becomes uniform), which leaves the objective unchanged.
    """
    K, V = stats.word_counts.shape
    weights = stats.class_counts + (weight_concentration - 1.0)
    log_weights = weights.log() - weights.sum().log()
    words = stats.word_counts + (beta_concentration - 1.0)
    totals = words.sum(-1, keepdim=True)
    log_topics = words.log() - totals.log()
    empty = (totals <= 0).squeeze(-1)
    if empty.any():
        fill = (
            previous_log_topics[empty]
            if previous_log_topics is not None
            else torch.full((int(empty.sum()), V), -math.log(V), dtype=torch.float64)
        )
        log_topics[empty] = fill
    return log_weights, log_topics


def log_prior(
    log_weights: torch.Tensor,
    log_topics: torch.Tensor,
    weight_concentration: float,
    beta_concentration: float,
) -> float:
    """``log Dir(pi; alpha_pi) + sum_k log Dir(beta_k; alpha_beta)``."""
    return float(
        dirichlet_log_density(log_weights.exp(), weight_concentration)
        + dirichlet_log_density(log_topics.exp(), beta_concentration).sum()
    )


def initial_responsibilities(
    chunk: SparseChunk, num_components: int, init: str, generator: torch.Generator
) -> torch.Tensor:
    """Random responsibilities that seed a restart.

    ``"random-partition"`` assigns every document to one class uniformly at random (a random
    partition, as in the first M-step of k-means-style EM); ``"random-soft"`` draws each
    document's responsibilities from a flat Dirichlet.
    """
    B = len(chunk)
    if init == "random-partition":
        z = torch.randint(num_components, (B,), generator=generator)
        return torch.nn.functional.one_hot(z, num_components).double()
    if init == "random-soft":
        e = -torch.rand(B, num_components, generator=generator, dtype=torch.float64).log()
        return e / e.sum(-1, keepdim=True)  # normalized exponentials: Dir(1, ..., 1)
    raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")


def initial_parameters(
    chunks: list[SparseChunk],
    num_components: int,
    *,
    weight_concentration: float,
    beta_concentration: float,
    init: str = "random-partition",
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log pi, log beta)`` from one M-step on random responsibilities."""
    V = chunks[0].counts.shape[1]
    stats = SufficientStatistics(num_components, V)
    for chunk in chunks:
        stats.add(chunk, initial_responsibilities(chunk, num_components, init, generator))
    return m_step(stats, weight_concentration, beta_concentration)


def check_map_concentrations(weight_concentration: float, beta_concentration: float) -> None:
    if weight_concentration < 1.0 or beta_concentration < 1.0:
        raise ValueError(
            "EM's MAP estimate needs Dirichlet concentrations >= 1 (below 1 the posterior "
            f"mode is on the boundary); got weight={weight_concentration}, "
            f"beta={beta_concentration}"
        )


def run_em(
    chunks: list[SparseChunk],
    log_weights: torch.Tensor,
    log_topics: torch.Tensor,
    *,
    weight_concentration: float,
    beta_concentration: float,
    iterations: int = 200,
    tol: float = 1e-6,
    progress: bool = False,
    desc: str = "EM",
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """EM from given parameters until the relative gain of the objective is below ``tol`` or
    ``iterations`` M-steps are done.

    :returns: the final ``(log pi, log beta)`` and the MAP objective at the start and after
        every M-step; the last entry is the objective of the returned parameters.
    """
    history: list[float] = []
    bar = tqdm(total=iterations, desc=desc, disable=not progress, leave=False)
    try:
        for it in range(iterations + 1):
            log_lik, stats = e_step(chunks, log_weights, log_topics)
            bound = log_lik + log_prior(
                log_weights, log_topics, weight_concentration, beta_concentration
            )
            history.append(bound)
            logger.debug("%s iteration %d: objective %.6f nats", desc, it, bound)
            if it == 0:
                gain = math.inf
            else:
                gain = (bound - history[-2]) / abs(history[-2])
                bar.update(1)
                bar.set_postfix(objective=f"{bound:.6g}")
                if gain < -DECREASE_TOLERANCE:
                    logger.error(
                        "%s: the objective decreased at iteration %d (%.10g -> %.10g); this is "
                        "a bug or a numerical problem",
                        desc,
                        it,
                        history[-2],
                        bound,
                    )
            if it == iterations or gain < tol:
                break
            log_weights, log_topics = m_step(
                stats, weight_concentration, beta_concentration, log_topics
            )
    finally:
        bar.close()
    return log_weights, log_topics, history


def fit_em(
    corpus: BowCorpus,
    num_components: int,
    *,
    beta_concentration: float = 2.0,
    weight_concentration: float = 1.0,
    iterations: int = 200,
    tol: float = 1e-6,
    restarts: int = 3,
    seed: int = 0,
    init: str = "random-partition",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
) -> MixtureFit:
    """Fit a mixture of multinomials by exact MAP-EM with random restarts.

    :param corpus: the training documents.
    :param num_components: K.
    :param beta_concentration: ``alpha_beta >= 1`` of the Dirichlet prior on each class's
        word distribution (``alpha_beta - 1`` pseudo-counts per word and class).
    :param weight_concentration: ``alpha_pi >= 1`` of the prior on the class weights.
    :param iterations: the most M-steps per restart.
    :param tol: stop a restart when an iteration raises the objective by less than this
        fraction of its magnitude.
    :param restarts: independent random initializations; the one with the highest final
        training objective is kept.
    :param seed: seeds the initializations (restart r uses ``seed + r``).
    :param init: how a restart starts, see :func:`initial_responsibilities`.
    :param chunk_size: documents per sparse chunk.
    :param progress: show a tqdm bar per restart.
    """
    check_map_concentrations(weight_concentration, beta_concentration)
    if num_components < 1 or restarts < 1:
        raise ValueError("num_components and restarts must be >= 1")
    if len(corpus) == 0:
        raise ValueError("cannot fit a mixture to an empty corpus")
    chunks = sparse_chunks(corpus, chunk_size)
    concentrations = dict(
        weight_concentration=weight_concentration, beta_concentration=beta_concentration
    )

    def restart(r: int):
        generator = torch.Generator().manual_seed(seed + r)
        start = initial_parameters(chunks, num_components, init=init, generator=generator,
                                   **concentrations)  # fmt: skip
        log_weights, log_topics, history = run_em(
            chunks, *start, iterations=iterations, tol=tol, progress=progress,
            desc=f"EM K={num_components} restart {r + 1}/{restarts}", **concentrations,
        )  # fmt: skip
        return log_weights, log_topics, history, history[-1], len(history) - 1

    return best_of_restarts("EM", num_components, restarts, restart, **concentrations)
