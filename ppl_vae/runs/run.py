"""A run directory: config, vocabulary, checkpoints, metrics and plots of one training run.

``run_dir/`` holds ``config.json`` (readable copy; the checkpoint's copy is authoritative),
``vocab.txt``, ``checkpoint.pt`` (latest), ``best.pt`` (best validation), ``metrics.jsonl`` and
``curves.png``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ppl_vae.config import TrainConfig
from ppl_vae.data import DataError, DocumentSplits, load_documents
from ppl_vae.data.sentences import DEFAULT_MAX_LENGTH, SentenceSplits, load_sentence_data
from ppl_vae.data.vocabulary import Vocabulary
from ppl_vae.evaluation.plotting import plot_training_curves
from ppl_vae.ops.rng import own_rng
from ppl_vae.runs.registry import SENTENCE_MODELS, build, model_class
from ppl_vae.training import BEST, CHECKPOINT, TrainResult, train
from ppl_vae.training.checkpoint import CheckpointError, load_checkpoint
from ppl_vae.training.distributed import barrier, broadcast, world
from ppl_vae.training.files import (
    CONFIG,
    RunError,
    RunLock,
    holds_run,
    read_run_config,
    remove_run,
)

logger = logging.getLogger(__name__)

#: config fields that ``run_training(..., resume=True, overrides=...)`` may change
RESUME_OVERRIDES = ("epochs", "lr", "lr_drop", "patience")


def load_data(
    config: TrainConfig,
    source: str | dict | None = None,
    *,
    valid_fraction: float = 0.05,
    max_vocab: int | None = None,
    max_length: int | None = None,
    unk_tokens: Sequence[str] = (),
    eval_max_length: int | None = None,
) -> DocumentSplits | SentenceSplits:
    """The corpus of ``config.model``'s kind (documents or sentences) from ``source`` (a
    directory, or ``"synthetic"`` for the embedded synthetic corpus), or by default (``None``)
    the corpus that ``config.data`` names. ``valid_fraction`` of train is held out when the
    corpus has no valid split. ``max_vocab`` caps the vocabulary built from a text corpus (None:
    10,000 words for sentences, 2,000 for documents, as NVDM); a corpus in the NVDM ``.feat``
    format brings its own vocabulary, and a cap is refused there (:class:`DataError`).
    ``max_length`` and ``unk_tokens`` (the corpus's own unknown markers, read as ``<unk>``)
    apply to sentences. ``max_length`` cuts training
    sentences: None is :data:`~ppl_vae.data.sentences.DEFAULT_MAX_LENGTH`, 0 never cuts.
    ``eval_max_length`` also cuts validation and test sentences (a forced truncation, which
    evaluation reports)."""
    if config.model in SENTENCE_MODELS:
        if source is None:
            return load_sentence_data(config.data, eval_max_length=eval_max_length)
        max_length = DEFAULT_MAX_LENGTH if max_length is None else (max_length or None)
        vocab = {} if max_vocab is None else {"max_vocab": max_vocab}
        return load_sentence_data(source, **vocab, max_length=max_length,
                                  valid_fraction=valid_fraction, seed=config.seed,
                                  unk_tokens=unk_tokens,
                                  eval_max_length=eval_max_length)  # fmt: skip
    if source is None:
        return load_documents(config.data, seed=config.seed)
    return load_document_source(source, valid_fraction, config.seed, max_vocab)


def load_document_source(
    source, valid_fraction: float = 0.05, seed: int = 0, max_vocab: int | None = None
) -> DocumentSplits:
    """:func:`~ppl_vae.data.load_documents` of a directory (or ``"synthetic"``), with a
    vocabulary cap for a text corpus; a cap for an NVDM ``.feat`` corpus, whose vocabulary file
    fixes the words, is a :class:`DataError` rather than silently ignored."""
    if max_vocab is None:
        return load_documents(source, valid_fraction=valid_fraction, seed=seed)
    if isinstance(source, (str, Path)) and any(Path(source).glob("*train.feat")):
        raise DataError(
            source, f"--max-vocab {max_vocab} applies to text corpora; this one is in the NVDM "
            ".feat format, whose vocabulary file fixes the words"
        )  # fmt: skip
    return load_documents(source, valid_fraction=valid_fraction, seed=seed, max_vocab=max_vocab)


def load_run_data(
    config: TrainConfig, data_dir: str | None = None, eval_max_length: int | None = None
):
    """The corpus a run was trained on, or the one in ``data_dir`` read with the run's own
    settings (vocabulary size, minimum count, maximum length, held-out share and seed), so
    that the same text gives the same vocabulary. ``eval_max_length`` cuts the validation and
    test sentences (see :func:`load_data`)."""
    if data_dir is None or "path" not in config.data:
        return load_data(config, data_dir, eval_max_length=eval_max_length)
    config = replace(config, data={**config.data, "path": str(data_dir)})
    return load_data(config, eval_max_length=eval_max_length)


def run_training(
    config: TrainConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    data: DocumentSplits | SentenceSplits | None = None,
    overrides: dict | None = None,
    overwrite: bool = False,
    expect: dict | None = None,
) -> TrainResult:
    """Load the data, build the model and guide, train, and write the run directory.

    The run directory is this process's while it trains (:class:`~ppl_vae.training.files.
    RunLock`: a second writer is refused). A directory that already holds a run is refused
    unless ``resume`` (continue it) or ``overwrite`` (delete its files and start again).

    With ``resume``, the config saved in ``run_dir/checkpoint.pt`` is used, and the run must
    match ``expect`` (config fields; by default ``{"model": config.model}``, e.g. add
    ``"guide"``) and, when ``data`` is given, have its vocabulary;
    ``overrides`` may change the fields in :data:`RESUME_OVERRIDES`: ``{"epochs": 60}`` to
    extend the budget (kept otherwise), ``{"lr": 3e-4}`` to go on at a lower rate from the
    first resumed step, ``{"lr_drop": 0.25}`` to lower it whenever validation stalls.

    :raises RunError: for a run directory that cannot be used as asked, or a resume mismatch.
    """
    run_dir = Path(run_dir)
    overrides = overrides or {}
    unknown = set(overrides) - set(RESUME_OVERRIDES)
    if unknown:
        raise ValueError(
            f"a resumed run can change only {', '.join(RESUME_OVERRIDES)}, not "
            f"{', '.join(sorted(unknown))}"
        )
    expect = expect if expect is not None else {"model": config.model}
    w = world()
    if not w.main:  # rank 0 owns the directory; the others read it, once rank 0 says so
        refused = broadcast(None, w)
        if refused:
            raise RunError(refused)
        if resume:
            config = _resumed_config(run_dir, expect, data, overrides)
        return _train_run(config, run_dir, resume, progress, data)
    with RunLock(run_dir):
        try:
            if resume:
                config = _resumed_config(run_dir, expect, data, overrides)
            elif holds_run(run_dir):
                if not overwrite:
                    raise RunError(
                        f"{run_dir} already holds a run; continue it with --resume, or replace "
                        "it with --overwrite"
                    )
                logger.warning("%s: overwriting the run it held", run_dir)
                remove_run(run_dir)
        except Exception as e:
            broadcast(str(e), w)
            raise
        broadcast(None, w)
        return _train_run(config, run_dir, resume, progress, data)


def _resumed_config(run_dir: Path, expect: dict, data, overrides: dict) -> TrainConfig:
    """The saved config of the run in ``run_dir``, checked against what the caller asked for,
    with ``overrides`` applied."""
    payload = load_checkpoint(run_dir / CHECKPOINT)
    saved = TrainConfig.from_dict(payload["config"])
    for field, asked in expect.items():
        if asked != getattr(saved, field):
            raise RunError(f"{run_dir} is a {saved.model} run with the {saved.guide} guide; "
                           f"--resume asked for {field} {asked!r}")  # fmt: skip
    if data is not None and "path" in saved.data and "path" in data.source:
        held, asked = saved.data["path"], str(Path(data.source["path"]).resolve())
        if Path(held) != Path(asked):
            raise RunError(f"{run_dir} was trained on {held}; --resume was given {asked}")
    if data is not None:
        vocab = payload.get("extra", {}).get("vocab")
        if vocab is not None and list(vocab) != list(data.vocab):
            held = saved.data.get("path", saved.data.get("kind"))
            asked = data.source.get("path", data.source.get("kind"))
            raise RunError(
                f"{run_dir} was trained on {held} ({len(vocab)} words); the corpus given, "
                f"{asked}, has another vocabulary ({len(data.vocab)} words)"
            )
    for key, value in overrides.items():
        logger.info("resumed run: %s %s -> %s", key, getattr(saved, key), value)
        setattr(saved, key, value)
    return saved


def _train_run(config: TrainConfig, run_dir: Path, resume: bool, progress: bool, data):
    data = data if data is not None else load_data(config)
    config.data = _absolute(data.source)
    with own_rng(config.seed):  # the initial weights, without reseeding the caller's RNG
        model, guide = build(config, len(data.vocab))
        if not resume and hasattr(model, "init_from_corpus"):  # e.g. word frequencies
            model.init_from_corpus(data.train)
    main = world().main
    if main:
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        (run_dir / "vocab.txt").write_text("".join(v + "\n" for v in data.vocab), encoding="utf-8")
    extra = {"vocab": list(data.vocab)}
    result = train(model, guide, data.train, data.valid, config, run_dir=run_dir, resume=resume,
                   progress=progress, extra=extra)  # fmt: skip
    if main:  # with what the run measured (sparse_input) in place of "measure it"
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    if result.history and main:
        plot_training_curves(result.history, run_dir / "curves.png")
    barrier()  # the run directory is complete before any rank reads it back
    return result


def _absolute(source: dict) -> dict:
    """A corpus source with its path made absolute, so the run still finds its corpus after it
    (or the working directory) moves."""
    if "path" in source:
        return {**source, "path": str(Path(source["path"]).resolve())}
    return source


def word_totals(corpus) -> torch.Tensor:
    """Total count of each vocabulary word in a :class:`~ppl_vae.data.BowCorpus`."""
    return corpus.word_totals()


@dataclass
class LoadedRun:
    config: TrainConfig
    model: torch.nn.Module
    guide: torch.nn.Module
    vocab: list[str]
    state: dict
    path: Path


def load_run(
    run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"
) -> LoadedRun:
    """Rebuild the model and guide of a run from ``best.pt`` (or ``checkpoint.pt``).

    When the run kept a moving average of its weights (``ema_decay > 0``), those are loaded.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run directory")
    path = run_dir / (BEST if which == "best" else CHECKPOINT)
    if which == "best" and not path.exists():
        path = run_dir / CHECKPOINT
    payload = load_checkpoint(path, map_location=device)
    _check_config_json(run_dir, path, payload["config"])
    try:
        config = TrainConfig.from_dict(payload["config"])
        model_class(config.model)
    except ValueError as e:
        raise CheckpointError(
            f"{path}: {e}; if {run_dir / 'config.json'} was edited, note that the checkpoint's "
            "own copy of the config is the one that counts"
        ) from None
    vocab = payload.get("extra", {}).get("vocab")
    if not vocab:
        raise CheckpointError(f"{path}: checkpoint holds no vocabulary")
    model, guide = build(config, len(vocab))
    average = payload.get("average")
    if isinstance(average, list):  # written before the update count was saved
        average = {"weights": average}
    weights = average["weights"] if average else [payload["model"], payload["guide"]]
    try:
        model.load_state_dict(weights[0])
        guide.load_state_dict(weights[1])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the saved config: {e}") from e
    model.to(device).eval()
    guide.to(device).eval()
    return LoadedRun(config, model, guide, list(vocab), payload["state"], path)


def _check_config_json(run_dir: Path, checkpoint: Path, saved: dict) -> None:
    """``CheckpointError`` if ``config.json`` names another model or guide than the checkpoint
    holds: the checkpoint is then a foreign one, or the readable copy was edited."""
    path, readable = run_dir / CONFIG, read_run_config(run_dir)
    for field in ("model", "guide"):
        if field in readable and readable[field] != saved.get(field):
            raise CheckpointError(
                f"{path} says {field} {readable[field]!r}, but {checkpoint} holds "
                f"{saved.get(field)!r}: the checkpoint is another run's, or config.json was "
                "edited (the checkpoint's own copy of the config is the one that counts)"
            )


def check_vocab(expected: list[str], checkpoint: Path, vocab: list[str], source: str) -> None:
    """Raise :class:`DataError` if ``vocab`` (of the data at ``source``) differs from the
    vocabulary ``expected`` by the run whose checkpoint is ``checkpoint``."""
    if list(vocab) == list(expected):
        return
    if len(vocab) != len(expected):
        detail = f"{len(vocab)} words, but the checkpoint was trained on {len(expected)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(vocab, expected)) if a != b)
        detail = f"word {i + 1} is {vocab[i]!r}, but the checkpoint's is {expected[i]!r}"
    raise DataError(source, f"vocabulary does not match checkpoint {checkpoint}: {detail}")


def load_sentence_run(run_dir: str | Path) -> tuple[LoadedRun, Vocabulary]:
    """A sentence VAE's or sentence autoencoder's run and its vocabulary, for generation;
    ``CheckpointError`` for another model's run (one without a decoder of ``z``)."""
    run = load_run(run_dir)
    if not (hasattr(run.model, "decode") and hasattr(run.guide, "encode")):
        raise CheckpointError(
            f"{run_dir} is a {run.config.model} run; this needs a sentence-vae or sentence-ae run"
        )
    return run, Vocabulary(run.vocab)
