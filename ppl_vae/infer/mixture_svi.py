r"""MAP estimation of the mixture of multinomials by stochastic variational inference.

The per-document class ``z`` is summed out exactly by :class:`~pyro.infer.TraceEnum_ELBO`
(parallel enumeration; Obermeyer et al., 2019, "Tensor variable elimination for plated factor
graphs", ICML), and the global ``"weights"`` and ``"topics"`` get point masses
(:class:`~pyro.infer.autoguide.AutoDelta`). The data plate is scaled by ``N / batch``
(Hoffman et al., 2013, "Stochastic variational inference", JMLR), so the negative loss of a
minibatch is an unbiased estimate of the same MAP objective EM maximizes,
``sum_d log p(x_d | pi, beta) + log p(pi, beta)``, and both methods return a
:class:`~ppl_vae.infer.mixture_fit.MixtureFit` evaluated by the same exact code.
"""

from __future__ import annotations

import logging

import pyro
import torch
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO
from pyro.infer.autoguide import AutoDelta
from tqdm.auto import tqdm

from ppl_vae.data.bow import BowCorpus
from ppl_vae.infer.em import check_map_concentrations, initial_parameters
from ppl_vae.infer.mixture_fit import (
    DEFAULT_CHUNK_SIZE,
    MixtureFit,
    SparseChunk,
    best_of_restarts,
    sparse_chunks,
)
from ppl_vae.models.mixture import MixtureOfMultinomials

logger = logging.getLogger(__name__)

GLOBAL_SITES = ("weights", "topics")


def svi_run(
    corpus: BowCorpus,
    chunks: list[SparseChunk],
    num_components: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    beta_concentration: float,
    weight_concentration: float,
    final_lr_fraction: float,
    init: str,
    track_objective: bool,
    progress: bool,
    desc: str = "SVI",
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """One SVI run from the random start ``seed``; see :func:`fit_mixture_svi`.

    :returns: the final ``(log pi, log beta)`` in float64 and the objective after each epoch
        (preceded by the initial one when ``track_objective``).
    """
    log_w0, log_t0 = initial_parameters(
        chunks,
        num_components,
        weight_concentration=weight_concentration,
        beta_concentration=beta_concentration,
        init=init,
        generator=torch.Generator().manual_seed(seed),
    )
    init_values = {"weights": log_w0.exp().float(), "topics": log_t0.exp().float()}
    model = MixtureOfMultinomials(
        corpus.vocab_size, num_components, weight_concentration, beta_concentration
    )
    N = len(corpus)
    generator = torch.Generator().manual_seed(seed)
    gamma = final_lr_fraction ** (1.0 / max(1, epochs - 1))

    def objective(log_w: torch.Tensor, log_t: torch.Tensor) -> float:
        fit = MixtureFit(log_w, log_t, [], weight_concentration, beta_concentration)
        return fit.objective(chunks)

    history: list[float] = []
    with pyro.get_param_store().scope():
        guide = AutoDelta(
            poutine.block(model, expose=list(GLOBAL_SITES)),
            init_loc_fn=lambda site: init_values[site["name"]],
        )
        optim = pyro.optim.ExponentialLR(
            {"optimizer": torch.optim.Adam, "optim_args": {"lr": lr}, "gamma": gamma}
        )
        svi = SVI(model, guide, optim, TraceEnum_ELBO(max_plate_nesting=1))

        def estimates() -> tuple[torch.Tensor, torch.Tensor]:
            with torch.no_grad():
                values = guide.median()
            return values["weights"].double().log(), values["topics"].double().log()

        if track_objective:
            history.append(objective(log_w0, log_t0))
        bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
        for epoch in bar:
            losses = []
            for idx in corpus.batch_indices(batch_size, shuffle=True, generator=generator):
                (x,) = corpus.make_batch(idx)
                losses.append(svi.step(x, 1.0, N))
            optim.step()  # decay the learning rate once per epoch
            mean_loss = sum(losses) / len(losses)
            value = objective(*estimates()) if track_objective else -mean_loss
            history.append(value)
            bar.set_postfix(objective=f"{value:.6g}")
            logger.debug(
                "%s epoch %d: objective %.6f nats (mean minibatch loss %.6f)",
                desc,
                epoch + 1,
                value,
                mean_loss,
            )
        log_weights, log_topics = estimates()
    return log_weights, log_topics, history


def fit_mixture_svi(
    corpus: BowCorpus,
    num_components: int,
    *,
    epochs: int = 20,
    batch_size: int = 500,
    lr: float = 0.2,
    seed: int = 0,
    restarts: int = 1,
    beta_concentration: float = 2.0,
    weight_concentration: float = 1.0,
    final_lr_fraction: float = 0.01,
    init: str = "random-partition",
    track_objective: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
) -> MixtureFit:
    """Fit a mixture of multinomials by minibatch SVI with the class enumerated.

    Each restart's point estimates start where EM's restart with the same seed and ``init``
    starts (:func:`ppl_vae.infer.em.initial_parameters`), so a comparison of the two isolates the
    optimizer; as with EM, the restart with the highest exact training objective is kept.
    Adam's learning rate decays geometrically from ``lr`` to ``lr * final_lr_fraction`` over
    the epochs, which lets the minibatch noise die out. The runs use their own Pyro parameter
    store and leave the global one untouched. The defaults suit 20 Newsgroups (chosen on a
    held-out slice of its training set).

    :param corpus: the training documents.
    :param num_components: K.
    :param epochs: passes over the shuffled corpus per restart.
    :param batch_size: documents per SVI step.
    :param lr: Adam's initial learning rate (on the unconstrained parameters).
    :param seed: restart r uses ``seed + r`` for its initialization and minibatch order.
    :param restarts: independent runs; the best by training objective is kept.
    :param beta_concentration: ``alpha_beta`` of the model's Dirichlet prior on the topics.
    :param weight_concentration: ``alpha_pi`` of the prior on the class weights.
    :param final_lr_fraction: the last epoch's learning rate as a fraction of ``lr``.
    :param init: how to draw the starting point, see
        :func:`ppl_vae.infer.em.initial_responsibilities`.
    :param track_objective: after every epoch, compute the exact training objective for
        :attr:`MixtureFit.history` (one cheap sparse pass); else record minus the epoch's mean
        minibatch loss, a noisy estimate of it.
    :param chunk_size: documents per sparse chunk for the exact objective.
    :param progress: show a tqdm bar over the epochs.
    """
    if epochs < 1 or batch_size < 1 or restarts < 1:
        raise ValueError("epochs, batch_size and restarts must be >= 1")
    check_map_concentrations(weight_concentration, beta_concentration)
    if len(corpus) == 0:
        raise ValueError("cannot fit a mixture to an empty corpus")
    chunks = sparse_chunks(corpus, chunk_size)
    concentrations = dict(
        weight_concentration=weight_concentration, beta_concentration=beta_concentration
    )

    def restart(r: int):
        log_weights, log_topics, history = svi_run(
            corpus, chunks, num_components, epochs=epochs, batch_size=batch_size, lr=lr,
            seed=seed + r, final_lr_fraction=final_lr_fraction, init=init,
            track_objective=track_objective, progress=progress,
            desc=f"SVI K={num_components} restart {r + 1}/{restarts}", **concentrations,
        )  # fmt: skip
        final = MixtureFit(log_weights, log_topics, [], **concentrations).objective(chunks)
        return log_weights, log_topics, history, final, epochs

    return best_of_restarts("SVI", num_components, restarts, restart, **concentrations)
