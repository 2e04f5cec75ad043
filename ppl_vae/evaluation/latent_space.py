"""What a sentence model's code space is good for: reconstruction, and the fluency of what it
decodes away from the data.

The lecture's "VAEs as autoencoders": a deterministic autoencoder reconstructs sentences, but
only the VAE's noise and KL term make the space *between* codes decode to sentences. Bowman et
al. (2016), section 2, make the same point. This module measures both sides for any sentence
model with a decoder of ``z`` and a guide with ``encode`` (:class:`~ppl_vae.models.SentenceVAE`,
:class:`~ppl_vae.models.SentenceAutoencoder`):

* **Reconstruction** (:func:`reconstruction_scores`): greedy decoding from ``mu(x)``; the share
  of sentences decoded exactly, the token accuracy (position by position, ``<eos>`` included,
  over the reference's tokens), and corpus BLEU-4 (:func:`corpus_bleu`).
* **Fluency** (:func:`fluency`): the NLL per token (``<eos>`` included) of decoded sentences
  under a trained language model (the :class:`~ppl_vae.models.RNNLM`); lower is more fluent.
* **Interpolation** (:func:`interpolation_scores`): greedy decodings along ``(1 - t) mu_a + t
  mu_b``; the share of the inner steps whose sentence repeats an endpoint's decoding or is
  degenerate (empty, or one token repeated), and the midpoints' sentences.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch

from ppl_vae.evaluation.generation import EOS, PAD, greedy_decode

#: BLEU's n-gram orders
BLEU_ORDER = 4


def corpus_bleu(hypotheses: Sequence[Sequence[int]], references: Sequence[Sequence[int]]) -> float:
    """Corpus BLEU-4 (Papineni et al., 2002), one reference per hypothesis, in [0, 1]: the
    geometric mean of the clipped 1- to 4-gram precisions over the corpus, times the brevity
    penalty ``min(1, exp(1 - r / c))``. 0 if some order has no match (no smoothing)."""
    matches, totals = [0] * BLEU_ORDER, [0] * BLEU_ORDER
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = list(hyp), list(ref)
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, BLEU_ORDER + 1):
            h = Counter(tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
            r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())
            totals[n - 1] += max(0, len(hyp) - n + 1)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / BLEU_ORDER
    brevity = min(0.0, 1.0 - ref_len / hyp_len)
    return math.exp(log_precision + brevity)


def sentence_words(ids: torch.Tensor) -> list[list[int]]:
    """Each row's ids up to (not including) ``<eos>`` or padding."""
    out = []
    for row in ids.tolist():
        words = []
        for i in row:
            if i in (EOS, PAD):
                break
            words.append(i)
        out.append(words)
    return out


@torch.no_grad()
def reconstruction_scores(model, guide, corpus, max_length: int = 100, batch_size: int = 64,
                          examples: int = 0) -> dict:  # fmt: skip
    """Greedy decoding from ``mu(x)`` for every sentence of ``corpus`` (a
    :class:`~ppl_vae.data.sentences.SentenceCorpus`): ``exact_match`` (share of sentences
    decoded exactly), ``token_accuracy`` (share of reference tokens, ``<eos>`` included,
    matched at their position), ``bleu`` (:func:`corpus_bleu` over the words), ``sentences``,
    and the first ``examples`` ``(input, decoded)`` word-id pairs as ``examples``."""
    model.eval()
    guide.eval()
    hyps, refs = [], []
    for args, _ in corpus.eval_batches(batch_size):
        tokens, lengths = args
        loc, _ = guide.encode(tokens, lengths)
        decoded = greedy_decode(model, loc, max_length)
        hyps += sentence_words(decoded)
        refs += sentence_words(tokens)
    exact = np.mean([h == r for h, r in zip(hyps, refs)]) if refs else math.nan
    correct = total = 0
    for h, r in zip(hyps, refs):
        h, r = [*h, EOS], [*r, EOS]
        correct += sum(a == b for a, b in zip(h, r))
        total += len(r)
    return {
        "exact_match": float(exact),
        "token_accuracy": correct / max(total, 1),
        "bleu": corpus_bleu(hyps, refs),
        "sentences": len(refs),
        "examples": list(zip(refs[:examples], hyps[:examples])),
    }


@torch.no_grad()
def fluency(language_model, sentences: Sequence[Sequence[int]]) -> float:
    """The NLL per token (``<eos>`` included) of ``sentences`` (word ids, no ``<eos>``) under
    ``language_model`` (an :class:`~ppl_vae.models.RNNLM`): total NLL over total tokens."""
    if not sentences:
        return math.nan
    language_model.eval()
    total, count = 0.0, 0
    for start in range(0, len(sentences), 64):
        chunk = sentences[start : start + 64]
        lengths = torch.tensor([len(s) + 1 for s in chunk])
        tokens = torch.full((len(chunk), int(lengths.max())), PAD, dtype=torch.int64)
        for i, s in enumerate(chunk):
            tokens[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
            tokens[i, len(s)] = EOS
        total += float(language_model.nll(tokens, lengths).double().sum())
        count += int(lengths.sum())
    return total / count


def degenerate(words: Sequence[int]) -> bool:
    """Empty, or one token repeated."""
    return len(set(words)) <= 1


@torch.no_grad()
def interpolation_scores(model, guide, corpus, pairs: int = 100, steps: int = 5,
                         max_length: int = 30, seed: int = 0) -> dict:  # fmt: skip
    """Greedy decodings at ``steps`` evenly spaced points (ends included) between the codes
    ``mu`` of ``pairs`` random pairs of sentences of ``corpus`` (drawn with a generator seeded
    by ``seed``). ``repeat_or_degenerate``: the share of inner points whose sentence equals an
    endpoint's decoding or is :func:`degenerate`; ``midpoints``: the sentences decoded at
    ``t = 1/2`` (the middle step; ``steps`` should be odd); ``distinct_inner``: the mean number
    of distinct sentences among the inner points, over the pairs."""
    model.eval()
    guide.eval()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(corpus), size=(pairs, 2), replace=len(corpus) < 2 * pairs)
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    bad = inner = 0
    distinct, midpoints = [], []
    for a, b in chosen:
        tokens, lengths = corpus.make_batch([a, b])
        loc, _ = guide.encode(tokens, lengths)
        path = sentence_words(greedy_decode(model, (1 - t) * loc[0] + t * loc[1], max_length))
        ends = (path[0], path[-1])
        for words in path[1:-1]:
            inner += 1
            bad += words in ends or degenerate(words)
        distinct.append(len({tuple(w) for w in path[1:-1]}))
        midpoints.append(path[steps // 2])
    return {
        "repeat_or_degenerate": bad / max(inner, 1),
        "distinct_inner": float(np.mean(distinct)) if distinct else math.nan,
        "midpoints": midpoints,
        "pairs": pairs,
        "steps": steps,
    }
