"""Evaluate a saved run on a split: the figures (plain data) and the lines a person reads.

:func:`evaluate_run` serves every kind of run: the neural document models, the sentence models
(with perplexities counting ``<eos>`` and not) and the fitted mixture (exact). It loads the
corpus the run was trained on (or another with the same vocabulary) and calls
:func:`ppl_vae.evaluation.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ppl_vae.data import SYNTHETIC, load_documents
from ppl_vae.evaluation import evaluate, fast_documents, guide_mutual_information, perplexity_corpus
from ppl_vae.evaluation.fast_documents import REFINE_STEPS
from ppl_vae.evaluation.report import evaluation_table, recovery_report, topics_table
from ppl_vae.evaluation.topics import dimensions_by_activity
from ppl_vae.infer.ais import RUNS, STEPS
from ppl_vae.ops.rng import own_rng
from ppl_vae.ops.world import broadcast
from ppl_vae.runs.mixture import is_mixture_run, load_mixture
from ppl_vae.runs.registry import SENTENCE_MODELS
from ppl_vae.runs.run import check_vocab, load_run, load_run_data
from ppl_vae.training.files import RunError
from ppl_vae.training.monitor import collapse_warning


@dataclass
class RunReport:
    figures: dict  # JSON-serializable
    lines: list[str] = field(default_factory=list)  # the same, for a person

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | None = None,
    split: str = "test",
    num_samples: int = 100,
    device: str = "cpu",
    topics: int = 0,
    progress: bool = False,
    which: str = "best",
    seed: int | None = 0,
    refine_steps: int | None = None,
    eval_max_length: int | None = None,
    partition: str = "auto",
    ais_runs: int | None = None,
    ais_steps: int | None = None,
) -> RunReport:
    """Evaluate the run in ``run_dir`` on ``split`` of its corpus (or of ``data_dir``).

    :param num_samples: importance samples per item (neural runs; a mixture is exact).
    :param topics: also list the top words of this many latent dimensions (documents).
    :param which: ``"best"`` (validation) or ``"last"`` checkpoint.
    :param seed: seeds the guide's samples, batch by batch, on a forked RNG (the caller's is
        left as it was); None takes the seed from one draw of the caller's RNG.
    :param refine_steps: Adam steps refining each document's ``q`` before the estimates
        (:func:`~ppl_vae.evaluation.evaluate`); None: :data:`REFINE_STEPS` where the model and
        guide allow it (NVDM with a diagonal guide), else none. 0 reports the encoder's ``q``.
    :param partition: for a Replicated Softmax run, how ``log Z_N`` is computed: ``"exact"``,
        ``"ais"`` or ``"auto"`` (:func:`~ppl_vae.evaluation.evaluate`); ``ais_runs`` and
        ``ais_steps`` (None: :data:`~ppl_vae.infer.ais.RUNS`, :data:`~ppl_vae.infer.ais.STEPS`)
        set AIS.
    :param eval_max_length: cut the split's sentences to this many words (sentence runs). The
        figures then score cut sentences, and the report says so in its lines and its figures
        (``truncated``); by default every sentence is scored whole.
    :raises DataError: if ``data_dir``'s vocabulary differs from the run's.

    Under ``torch.distributed``, with every rank calling it, the items are shared out over the
    ranks, and every rank returns the figures of one process.
    """
    if seed is None:
        seed = broadcast(int(torch.randint(2**62, ())))
    ais = {"partition_method": partition, "ais_runs": ais_runs or RUNS,
           "ais_steps": ais_steps or STEPS}  # fmt: skip
    with own_rng(seed):
        return _evaluate_run(
            run_dir, data_dir, split, num_samples, device, topics, progress, which, seed,
            refine_steps, eval_max_length, ais,
        )  # fmt: skip


def _evaluate_run(run_dir, data_dir, split, num_samples, device, topics, progress, which, seed,
                  refine_steps, eval_max_length, ais):  # fmt: skip
    if is_mixture_run(run_dir):
        _no_refinement(refine_steps, "a mixture of multinomials (its log p(x) is exact)")
        return _mixture(run_dir, data_dir, split, topics)
    run = load_run(run_dir, which=which, device=device)
    if refine_steps and not fast_documents.applies(run.model, run.guide):
        _no_refinement(refine_steps, f"{run.config.model} with the {run.config.guide} guide")
    if run.config.model in SENTENCE_MODELS:
        return _sentences(run, data_dir, split, num_samples, device, progress, seed,
                          eval_max_length)  # fmt: skip
    if eval_max_length:
        raise RunError("--max-length cuts sentences; document runs are always scored whole")
    data = load_run_data(run.config, data_dir)
    check_vocab(run.vocab, run.path, data.vocab, _source(data_dir, data))
    if refine_steps is None:
        refine_steps = REFINE_STEPS if fast_documents.applies(run.model, run.guide) else 0
    ev = evaluate(run.model, run.guide, data.get(split), num_samples, device=device,
                  progress=progress, seed=seed, refine_steps=refine_steps, **ais)  # fmt: skip
    report = RunReport({**ev.to_dict(), "split": split, "checkpoint": str(run.path),
                        "ppl_doc_elbo_is_bound": ev.partition is None})  # fmt: skip
    report.lines.append(evaluation_table(ev, f"{split} evaluation of {run.path}:"))
    _flag_collapse(report, ev, run)
    weights = run.model.topic_weights().cpu()
    if data.synthetic is not None and split == "test":
        rec = recovery_report(data.synthetic, ev, weights)
        report.figures["recovery"] = rec
        report.lines += [
            "recovery of the generating model (synthetic corpus):",
            f"  active units {rec['active_units']} (true latent dimension "
            f"{rec['true_latent_dim']}); decoder subspace captures "
            f"{100 * rec['subspace_recovery']:.1f}% of the true loadings",
            f"  per-document perplexity: model (IW) {rec['ppl_doc_iw']:.1f}, oracle p(x|z_true) "
            f"{rec['ppl_doc_oracle']:.1f}, unigram {rec['ppl_doc_unigram']:.1f}",
        ]
    if topics and not ev.latent_means.shape[1]:  # no latent (DocNADE): its hidden units
        dims = list(range(min(topics, weights.shape[1])))
        report.lines.append(f"topics (top words of the first {len(dims)} hidden units):")
        report.lines.append(topics_table(weights, run.vocab, 10, dims))
    elif topics:
        dims = dimensions_by_activity(torch.as_tensor(ev.latent_means))[:topics]
        report.lines.append(f"topics (top words of the {len(dims)} most active latent dimensions):")
        report.lines.append(topics_table(weights, run.vocab, 10, dims))
    return report


def _no_refinement(refine_steps: int | None, what: str) -> None:
    if refine_steps:
        raise RunError(
            f"refining q at evaluation applies to NVDM with a diagonal Gaussian guide, not to "
            f"{what}; leave out --refine"
        )


def _source(data_dir, data) -> str:
    return str(data_dir or data.source.get("path", SYNTHETIC))


def _sentences(run, data_dir, split, num_samples, device, progress, seed,
               eval_max_length=None) -> RunReport:  # fmt: skip
    data = load_run_data(run.config, data_dir, eval_max_length)
    check_vocab(run.vocab, run.path, list(data.vocab), _source(data_dir, data))
    corpus = data.get(split)
    ev = evaluate(run.model, run.guide, corpus, num_samples, device=device, progress=progress,
                  seed=seed)  # fmt: skip
    figures = {**ev.to_dict(), "split": split, "checkpoint": str(run.path),
               "nll_elbo": -ev.elbo, "nll_iw": ev.nll_iw}  # fmt: skip
    words = np.asarray(corpus.words, dtype=np.float64)
    for name in ("elbo", "iw"):  # exp(total NLL / total tokens), both conventions
        total = -figures[f"nll_{name}"] * len(words)
        figures[f"ppl_{name}_with_eos"] = perplexity_corpus(total, words + 1)
        figures[f"ppl_{name}_without_eos"] = perplexity_corpus(total, words)
    informative = getattr(run.guide, "has_latent", True) and not ev.reconstruction
    batches = corpus.eval_batches(200, device)
    mi = guide_mutual_information(run.guide, batches, seed=seed + 1) if informative else 0.0
    figures["mi"] = mi
    f = figures
    if ev.reconstruction:  # an autoencoder: log p(x | z = mu(x)), and no density p(x)
        figures["nll_reconstruction"] = -ev.elbo
        lines = [
            f"{split} evaluation of {run.path} ({ev.documents} sentences):",
            f"  reconstruction NLL per sentence, -log p(x | z = mu(x)): {-ev.elbo:.2f} nats "
            f"(an autoencoder has no p(x): this is not a likelihood bound)",
        ]
        return RunReport(figures, lines)
    lines = [
        f"{split} evaluation of {run.path} ({ev.documents} sentences):",
        f"  NLL per sentence: ELBO {f['nll_elbo']:.2f}, "
        f"{'exact' if ev.exact else f'IW ({num_samples} samples)'} "
        f"{f['nll_iw']:.2f} nats; KL {ev.kl:.2f}; active units {ev.active_units}; MI "
        f"{f['mi']:.2f}",
        f"  perplexity, IW: {f['ppl_iw_with_eos']:.1f} counting <eos>, "
        f"{f['ppl_iw_without_eos']:.1f} without; ELBO: {f['ppl_elbo_with_eos']:.1f} / "
        f"{f['ppl_elbo_without_eos']:.1f}",
    ]
    report = RunReport(figures, lines)
    _flag_truncation(report, corpus, split)
    _flag_collapse(report, ev, run)
    return report


def _flag_truncation(report: RunReport, corpus, split: str) -> None:
    """Say so, in the figures and the lines, if the evaluated sentences were cut."""
    cut = getattr(corpus, "report", None)
    if cut is None or not cut.truncated_lines:
        return
    report.figures["truncated"] = {"sentences": len(cut.truncated_lines),
                                   "words_dropped": cut.truncated_words}  # fmt: skip
    report.lines.append(
        f"warning: {len(cut.truncated_lines)} {split} sentence(s) were cut ({cut.truncated_words} "
        "words dropped): these figures score the cut sentences, not the corpus, and do not "
        "compare with published ones"
    )


def _flag_collapse(report: RunReport, ev, run) -> None:
    """Say so, in the figures and the lines, if the model ignores ``z``."""
    informative = (
        getattr(run.guide, "has_latent", True)
        and not getattr(run.guide, "deterministic", False)
        and ev.partition is None  # an RBM: its hidden units are not a VAE's z
    )
    warning = (
        collapse_warning(ev.kl, ev.active_units, run.config, run.model) if informative else None
    )
    if warning:
        report.figures["warning"] = warning
        report.lines.append(f"warning: {warning}")


def _mixture(run_dir, data_dir, split, topics) -> RunReport:
    fit, config, vocab, path = load_mixture(run_dir)
    data = load_documents(data_dir or config["data"], valid_fraction=0.0, seed=config["seed"])
    check_vocab(vocab, path, data.vocab, _source(data_dir, data))
    ev = evaluate(fit, None, data.get(split))
    f = {**ev.to_dict(), "split": split, "checkpoint": str(path)}
    lines = [
        f"{split} evaluation of {path} (exact log p(x) by enumeration):",
        f"  perplexity per document {f['ppl_doc_elbo']:.1f}, over corpus "
        f"{f['ppl_corpus_elbo']:.1f}; -log p(x) per document {f['nll_iw']:.2f} nats",
        f"  KL(p(z|x) || p(z)) {f['kl']:.3f} nats; components in use {f['active_units']} of "
        f"{fit.num_components}",
    ]
    if topics:
        dims = list(range(min(topics, fit.num_components)))
        lines += [
            "top words of each class:",
            topics_table(fit.log_topics.T.float(), vocab, 10, dims),
        ]
    return RunReport(f, lines)
