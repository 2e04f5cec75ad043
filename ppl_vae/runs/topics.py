"""The topics of a saved document run: the words along each latent direction (both poles, and
after a varimax rotation if asked), and their coherence (NPMI) and diversity against a
reference corpus.

This serves ``ppl-vae topics``. A topic is a column of the decoder's word weights
(``model.topic_weights()``, ``(V, K)``): NVDM's and SBN's ``R``, or a fitted mixture's class
log-probabilities.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ppl_vae.data import DataError, DocumentSplits, load_documents
from ppl_vae.evaluation.coherence import DIVERSITY_TOP, coherence
from ppl_vae.evaluation.topics import ranked_ids, varimax
from ppl_vae.runs.mixture import is_mixture_run, load_mixture
from ppl_vae.runs.report import RunReport
from ppl_vae.runs.run import check_vocab, load_run
from ppl_vae.training.checkpoint import CheckpointError


class TopicError(ValueError):
    """A topic display that this run's model does not allow (e.g. rotating a binary latent)."""


def topic_report(
    run_dir: str | Path,
    words: int = 10,
    dims: int | None = None,
    poles: bool = False,
    rotate: bool = False,
    with_coherence: bool = False,
    reference: str | Path | None = None,
    top: int = 10,
) -> RunReport:
    """The top ``words`` words of each latent direction of the run in ``run_dir`` (the first
    ``dims`` directions), as figures and lines.

    :param poles: show both poles of each direction: the words that ``+z_k`` raises (``z[k]+``)
        and those that ``-z_k`` raises (``z[k]-``). Only for a latent with a symmetric prior.
    :param rotate: read the directions after a varimax rotation of the decoder
        (:func:`~ppl_vae.evaluation.topics.varimax`); only for an isotropic Gaussian prior, under
        which the rotated model has the same ``p(x)``.
    :param with_coherence: add each topic's NPMI of its top ``top`` words, their mean, and the
        topic diversity, with document co-occurrence in ``reference`` (a corpus directory with
        the run's vocabulary; by default the run's own corpus), over its whole training file.
        With ``rotate``, the unrotated directions' mean NPMI is reported beside.
    """
    weights, vocab, gaussian, source = _topics_of(run_dir)
    if (poles or rotate) and not gaussian:
        raise TopicError(
            f"{run_dir}: poles and rotation read a Gaussian latent's directions; this run's "
            "topics are not directions of an isotropic Gaussian"
        )
    chosen = list(range(weights.shape[1]))[:dims]
    depth = max(words, top, DIVERSITY_TOP)
    figures: dict = {"run": str(run_dir), "rotation": "varimax" if rotate else None}
    ranked, labels = _ranked(varimax(weights)[0] if rotate else weights, chosen, poles, depth)
    figures["topics"] = {lab: [vocab[i] for i in ids[:words]] for lab, ids in zip(labels, ranked)}
    lines = [f"  {lab:>7}  {' '.join(w)}" for lab, w in figures["topics"].items()]
    if with_coherence:
        corpus, name = _reference(source, reference, vocab)
        score = coherence(ranked, corpus.indptr, corpus.indices, top, name, labels)
        figures.update(score.to_dict())
        figures["npmi"] = dict(zip(labels, score.npmi))
        lines = [
            f"  {lab:>7}  npmi {s:6.3f}  {' '.join(w)}"
            for (lab, w), s in zip(figures["topics"].items(), score.npmi)
        ]
        lines.append(
            f"mean NPMI {score.mean_npmi:.3f}, topic diversity {score.diversity:.3f} "
            f"({len(labels)} topics)"
        )
        if rotate:
            plain, _ = _ranked(weights, chosen, poles, depth)
            before = coherence(plain, corpus.indptr, corpus.indices, top, name)
            figures["mean_npmi_unrotated"] = before.mean_npmi
            figures["diversity_unrotated"] = before.diversity
            lines.append(
                f"without rotation: mean NPMI {before.mean_npmi:.3f}, topic diversity "
                f"{before.diversity:.3f}"
            )
        lines.append(f"settings: {score.settings}")
    return RunReport(figures, lines)


def _topics_of(run_dir) -> tuple[torch.Tensor, list[str], bool, dict | str]:
    """The run's ``(V, K)`` topic weights, vocabulary, whether the latent is an isotropic
    Gaussian, and the corpus it was trained on."""
    if is_mixture_run(run_dir):
        fit, config, vocab, _ = load_mixture(run_dir)
        return fit.log_topics.T.float(), vocab, False, config["data"]
    run = load_run(run_dir)
    if not hasattr(run.model, "topic_weights"):
        raise CheckpointError(
            f"{run_dir} is a {run.config.model} run; topics are the word directions of a "
            "document model (nvdm, sbn, mixture)"
        )
    gaussian = bool(getattr(run.model, "standard_normal_prior", False))
    return run.model.topic_weights().cpu(), run.vocab, gaussian, run.config.data


def _ranked(weights, chosen, poles, depth) -> tuple[list[list[int]], list[str]]:
    ranked, labels = [], []
    plus, minus = ranked_ids(weights, depth, 1), ranked_ids(weights, depth, -1)
    for k in chosen:
        ranked.append(plus[k])
        labels.append(f"z[{k}]+" if poles else f"z[{k}]")
        if poles:
            ranked.append(minus[k])
            labels.append(f"z[{k}]-")
    return ranked, labels


def _reference(source, reference, vocab) -> tuple:
    """The reference corpus's training documents (its whole training file) and their name."""
    if reference is not None:
        data = load_documents(reference, valid_fraction=0.0)
        check_vocab(vocab, Path(reference), data.vocab, str(reference))
        return data.train, f"{reference} (train)"
    if isinstance(source, dict) and "path" in source:
        data = load_documents({**source, "valid_fraction": 0.0})
    elif isinstance(source, dict):  # the embedded synthetic corpus: its train split
        data = load_documents(source)
    else:  # a mixture run's corpus directory
        data = load_documents(source, valid_fraction=0.0)
    if not isinstance(data, DocumentSplits) or list(data.vocab) != list(vocab):
        raise DataError(str(source), "the run's corpus no longer has the run's vocabulary")
    name = source.get("path", source.get("kind")) if isinstance(source, dict) else str(source)
    return data.train, f"{name} (train)"


def run_topics(run_dir: str | Path, k: int = 10, dims: int | None = None) -> dict[int, list[str]]:
    """The ``k`` top words of each latent dimension (the first ``dims`` of them) of a run: the
    words each column of the decoder raises most, or each class's most probable words for a
    mixture."""
    report = topic_report(run_dir, words=k, dims=dims)
    return {int(lab[2:-1]): w for lab, w in report.figures["topics"].items()}
