"""Decoding sentences from a :class:`~ppl_vae.models.SentenceVAE`: sampling from the prior,
reconstruction from the posterior, and interpolation between two sentences.

Bowman et al. (2016), Tables 3 and 4 and Section 6: reconstructions decoded from the posterior
mean ("MEAN") and from samples of ``q(z | x)`` ("SAMP"), and the homotopy between the posterior
means of two sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from ppl_vae.data.vocabulary import Vocabulary

PAD, BOS, EOS = 0, 1, 2


def _allowed(logits: torch.Tensor) -> torch.Tensor:
    """Logits with ``<pad>`` and ``<bos>`` removed: neither is ever a target, so neither may be
    generated."""
    logits = logits.clone()
    logits[..., [PAD, BOS]] = -torch.inf
    return logits


@torch.no_grad()
def greedy_decode(model, z: torch.Tensor, max_length: int) -> torch.Tensor:
    """The most probable word at every step, until ``<eos>`` or ``max_length``."""
    return sample_decode(model, z, max_length, temperature=None)


@torch.no_grad()
def sample_decode(model, z: torch.Tensor, max_length: int, temperature: float | None = 1.0):
    """Ancestral sampling of ``x ~ p(x | z)`` with the logits divided by ``temperature``;
    ``temperature=None`` takes the most probable word instead (greedy). See
    :meth:`~ppl_vae.models.lstm_decoder.LSTMDecoder.decode`."""
    return model.decode(z, max_length, temperature)


@torch.no_grad()
def beam_decode(model, z: torch.Tensor, max_length: int, beam: int = 5) -> torch.Tensor:
    """Beam search for the most probable sentence given each ``z`` (total log-probability;
    a hypothesis ends at ``<eos>``). ``beam=1`` is greedy decoding."""
    rows = []
    for b in range(z.shape[0]):
        zb = z[b : b + 1]
        context = zb if model.z_every_step else None
        state = model._state(zb)
        hyps = [(0.0, [], state, False)]  # (log p, words, (h, c), finished)
        for _ in range(max_length):
            if all(h[3] for h in hyps):
                break
            candidates = []
            for logp, words, st, finished in hyps:
                if finished:
                    candidates.append((logp, words, st, True))
                    continue
                last = words[-1] if words else model.bos_index
                inp = torch.tensor([[last]], device=z.device)
                logits, new_state = model.decoder(inp, st, context)
                top = torch.log_softmax(_allowed(logits[0, -1]), -1).topk(beam)
                for lp, w in zip(top.values.tolist(), top.indices.tolist()):
                    candidates.append((logp + lp, [*words, w], new_state, w == EOS))
            hyps = sorted(candidates, key=lambda h: -h[0])[:beam]
        rows.append(max(hyps, key=lambda h: h[0])[1])
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.int64)


def decode(
    model,
    z: torch.Tensor,
    max_length: int = 30,
    method: str = "greedy",
    temperature: float = 1.0,
    beam: int = 5,
) -> torch.Tensor:
    """Ids ``(B, L)`` decoded from each ``z`` by ``"greedy"``, ``"sample"`` or ``"beam"``."""
    if method == "greedy":
        return greedy_decode(model, z, max_length)
    if method == "sample":
        return sample_decode(model, z, max_length, temperature)
    if method == "beam":
        return beam_decode(model, z, max_length, beam)
    raise ValueError(f"unknown decoding method {method!r}")


def encode_sentences(
    vocab: Vocabulary, sentences: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(tokens, lengths, unknown)``: the model's arguments for whitespace-tokenized text,
    with ``<eos>`` appended and the number of words mapped to ``<unk>``."""
    unknown: Counter[str] = Counter()
    ids = [vocab.encode(s.split(), unknown) + [EOS] for s in sentences]
    width = max(len(i) for i in ids)
    tokens = torch.tensor([i + [PAD] * (width - len(i)) for i in ids], dtype=torch.int64)
    return tokens, torch.tensor([len(i) for i in ids]), sum(unknown.values())


def to_text(vocab: Vocabulary, ids: torch.Tensor) -> list[str]:
    return [" ".join(vocab.decode(row.tolist(), until_eos=True)) for row in ids]


@torch.no_grad()
def reconstruct(
    model,
    guide,
    vocab: Vocabulary,
    sentences: Sequence[str],
    samples: int = 3,
    max_length: int = 30,
    beam: int = 1,
) -> list[dict]:
    """For each sentence: the decoding of the posterior mean (``MEAN``) and of ``samples``
    draws from ``q(z | x)`` (``SAMP``), greedy or with a beam of width ``beam``."""
    tokens, lengths, _ = encode_sentences(vocab, sentences)
    loc, scale = guide.encode(tokens, lengths)
    rows = []
    for i, sentence in enumerate(sentences):
        draws = loc[i] + scale[i] * torch.randn(samples, loc.shape[1])
        rows.append(
            {
                "input": sentence,
                "mean": to_text(vocab, search_decode(model, loc[i : i + 1], max_length, beam))[0],
                "samples": to_text(vocab, search_decode(model, draws, max_length, beam)),
            }
        )
    return rows


def search_decode(model, z: torch.Tensor, max_length: int = 30, beam: int = 1) -> torch.Tensor:
    """Ids ``(B, L)`` of the most probable sentence for each ``z`` as far as a search of width
    ``beam`` finds it: greedy decoding for 1 (the same result as a beam of 1, faster)."""
    return decode(model, z, max_length, "beam" if beam > 1 else "greedy", beam=beam)


@torch.no_grad()
def interpolate(
    model,
    guide,
    vocab: Vocabulary,
    a: str,
    b: str,
    steps: int = 5,
    max_length: int = 30,
    beam: int = 1,
) -> list[str]:
    """Decodings (greedy, or beam search of width ``beam``) along
    ``z_t = (1 - t) mu_a + t mu_b`` for ``steps`` evenly spaced t."""
    tokens, lengths, _ = encode_sentences(vocab, [a, b])
    loc, _ = guide.encode(tokens, lengths)
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return to_text(vocab, search_decode(model, (1 - t) * loc[0] + t * loc[1], max_length, beam))


@torch.no_grad()
def fit_codes(guide, batches, max_items: int | None = None) -> torch.distributions.Distribution:
    """A Gaussian fitted to the posterior means ``mu(x)`` of the sentences of ``batches``
    (``(args, tokens)`` pairs, as a corpus's ``eval_batches`` gives): their mean and full
    covariance (plus 1e-6 on the diagonal), as a distribution to draw codes from. For an
    autoencoder, whose codes need not lie anywhere near ``N(0, I)``, it is the fair
    "prior" to sample; for a VAE it approximates the aggregate posterior."""
    codes, seen = [], 0
    for args, _ in batches:
        loc, _ = guide.encode(*args[:2])
        codes.append(loc.double().cpu())
        seen += len(loc)
        if max_items is not None and seen >= max_items:
            break
    z = torch.cat(codes)[:max_items]
    if len(z) < 2:
        raise ValueError("fitting a Gaussian to the codes needs at least 2 sentences")
    mean = z.mean(0)
    cov = torch.cov(z.T).reshape(len(mean), len(mean)) + 1e-6 * torch.eye(len(mean))
    return torch.distributions.MultivariateNormal(mean.float(), cov.float())
