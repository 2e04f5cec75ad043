r"""Annealed importance sampling of the Replicated Softmax's partition functions ``Z_N``.

Neal (2001), "Annealed Importance Sampling", Statistics and Computing; Salakhutdinov and
Murray (2008), "On the Quantitative Analysis of Deep Belief Networks", ICML; for the RSM,
Salakhutdinov and Hinton (2009), section 3, who anneal from a base-rate model at each length.

**One path for every length.** Summing out the words, a Replicated Softmax of N words is a
distribution over the hidden states alone,

.. math::
    P_N(z) \propto \exp\big(N g(z)\big), \qquad
    g(z) = a^\top z + \log \textstyle\sum_v \exp(b_v + W_{v:} z), \qquad Z_N = \sum_z e^{N g(z)},

so the document length N acts as an inverse temperature, and ``Z_0 = 2^H``. This module anneals
``t`` from 0 to the longest length, adding the words one at a time, and reads ``log Z_N`` off
the same runs as they pass each N: one AIS sweep serves every length, with no interpolation
between lengths. Between N and N + 1 words the intermediate distributions hold N words at full
strength and one more at strength ``s`` from 0 to 1, drawn from the base-rate model ``b_A`` (the
log unigram frequencies of the training words) mixed in:

.. math::
    p^*_{N,s}(z) = e^{(N+s)\, a^\top z}\,
        \Big(\textstyle\sum_v e^{b_v + W_{v:} z}\Big)^N
        \textstyle\sum_v e^{(1-s)\, b_{A,v} + s\, (b_v + W_{v:} z)}

(at ``s = 0`` the extra word is independent of ``z`` and adds nothing to ``Z``, ``b_A`` being
normalized; at ``s = 1`` it is the (N+1)-th word). The importance weights are computed on ``z``
with the words summed out (Rao-Blackwellized). The transition at ``(N, s)`` is one block-Gibbs
sweep of the joint: N words from ``softmax(b + W z)`` and the extra one from
``softmax((1-s) b_A + s (b + W z))``, then ``z ~ Bernoulli(sigmoid((N+s) a + W^T x))`` with
the extra word's row weighted by ``s``.

**The schedule** (:func:`schedule`): ``steps`` (``K_0``) temperatures for the first word,
then ``ceil(K_0 / N)`` for the word after N (so equal steps in ``log t``, where the
distributions change evenly), at least one per word. With the default
:data:`STEPS` = 1,000 and 20 Newsgroups' longest test document (4,306 words) that is about
11,800 temperatures. Once a word has a single temperature, a Gibbs sweep is taken only every
``ceil(N / SWEEPS_PER_WORD_SCALE)`` words (:data:`SWEEPS_PER_WORD_SCALE`), the distributions
then changing by under 1% of their temperature between sweeps; skipping a transition leaves the
estimate unbiased.

**The estimate.** After R independent runs, ``log Z_N = log Z_0 + log mean_r w_r(N)``. By
Jensen's inequality it is a stochastic *under*-estimate of ``log Z_N`` on average, so ``log
P(x) = -F(x) - log Z_N`` comes out slightly optimistic; the spread of ``log w`` over the runs,
reported with every estimate, says how far to trust it. The tests hold it within 0.05 nats of
exact enumeration on small RSMs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

#: AIS runs
RUNS = 100
#: temperatures for the first word (K_0); the word after N gets ceil(K_0 / N)
STEPS = 1_000
#: above this length a Gibbs sweep is taken every ceil(N / SWEEPS_PER_WORD_SCALE) words
SWEEPS_PER_WORD_SCALE = 100


def schedule(max_length: int, steps: int = STEPS) -> list[tuple[int, float]]:
    """The temperatures ``(N, s)`` of the path up to ``max_length`` words: ``steps`` for the
    first word, ``ceil(steps / N)`` for the word after N, each word ending at ``(N, 1)``."""
    if steps < 1:
        raise ValueError(f"AIS needs at least one temperature per word, got {steps}")
    path = []
    for n in range(max_length):
        k = steps if n == 0 else max(1, math.ceil(steps / n))
        path += [(n, (i + 1) / k) for i in range(k)]
    return path


@dataclass
class PartitionEstimate:
    """AIS estimates of ``log Z_N`` for N = 1..max_length.

    ``run_log_z[N - 1, r]`` is run r's ``log Z_0 + log w`` on reaching N words; the estimate is
    ``log mean_r exp(run_log_z[N - 1, r])``."""

    run_log_z: np.ndarray  # (max_length, R) float64
    num_temperatures: int
    steps: int

    @property
    def num_runs(self) -> int:
        return self.run_log_z.shape[1]

    @property
    def max_length(self) -> int:
        return self.run_log_z.shape[0]

    def _rows(self, lengths) -> np.ndarray:
        ns = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if ns.size and (ns.min() < 1 or ns.max() > self.max_length):
            raise ValueError(
                f"lengths {ns.min()}..{ns.max()} are outside the AIS path's 1..{self.max_length}"
            )
        return ns - 1

    def log_z(self, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
        """The estimate of ``log Z_N`` at each of ``lengths``."""
        r = torch.as_tensor(self.run_log_z[self._rows(lengths)])
        return (torch.logsumexp(r, 1) - math.log(self.num_runs)).numpy()

    def spread(self, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
        """The standard deviation of ``log w`` over the runs at each of ``lengths``."""
        return self.run_log_z[self._rows(lengths)].std(1)

    def standard_error(self, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
        """A delta-method standard error of the estimate at each of ``lengths``:
        ``sd(w) / (sqrt(R) mean(w))``, computed stably from the runs."""
        r = self.run_log_z[self._rows(lengths)]
        w = np.exp(r - r.max(1, keepdims=True))
        return w.std(1) / (np.sqrt(self.num_runs) * w.mean(1))

    def table(self, lengths: Sequence[int] | np.ndarray) -> dict[int, float]:
        """``{N: log Z_N}`` for the distinct ``lengths``, for
        :meth:`~ppl_vae.models.ReplicatedSoftmax.set_log_partition`."""
        ns = sorted({int(n) for n in np.asarray(lengths).round().astype(int).tolist()})
        return dict(zip(ns, self.log_z(ns).tolist()))


def _log_p_star(n: int, s: float, az, logits, lse, base) -> torch.Tensor:
    """``log p*_{N,s}(z)`` (float64) from ``a^T z``, the logits ``b + W z``, their
    log-sum-exp ``lse`` and ``b_A``."""
    extra = torch.logsumexp((1.0 - s) * base + s * logits, -1)
    # in float64 before scaling by N: at 4,000 words the terms reach 1e5, where float32's
    # rounding (0.01) would enter every increment of the weight
    return (n + s) * az.double() + n * lse.double() + extra.double()


def _words(probs: torch.Tensor, count: int) -> torch.Tensor:
    """Counts of ``count`` words drawn from each row of ``probs``, ``(R, V)``."""
    if count == 0:
        return torch.zeros_like(probs)
    words = torch.multinomial(probs, count, replacement=True)
    return torch.zeros_like(probs).scatter_add_(
        1, words, torch.ones_like(probs[:, :1]).expand_as(words)
    )


@torch.no_grad()
def ais_log_partition(
    model,
    max_length: int,
    base_logits: torch.Tensor | None = None,
    num_runs: int = RUNS,
    steps: int = STEPS,
    progress: bool = False,
) -> PartitionEstimate:
    """AIS estimates of ``log Z_N`` of a :class:`~ppl_vae.models.ReplicatedSoftmax` for every
    N from 1 to ``max_length``, from ``num_runs`` runs of the path described above, drawing
    from torch's RNG.

    :param base_logits: ``b_A``, the base-rate model's log word frequencies (normalized here);
        by default the model's own visible biases ``b``.
    :param steps: ``K_0``, the temperatures of the first word (:func:`schedule`).
    """
    device = model.weight.device
    w, b, a = model.weight.float(), model.visible_bias.float(), model.hidden_bias.float()
    base = torch.log_softmax((b if base_logits is None else base_logits.to(device)).float(), -1)
    path = schedule(max_length, steps)
    z = torch.bernoulli(torch.full((num_runs, model.hidden_dim), 0.5, device=device))
    log_w = torch.zeros(num_runs, dtype=torch.float64, device=device)
    out = np.empty((max_length, num_runs))
    logits, az = b + z @ w.T, z @ a
    lse = torch.logsumexp(logits, -1)
    previous = _log_p_star(0, 0.0, az, logits, lse, base)
    for n, s in tqdm(path, desc="AIS", disable=not progress, leave=False):
        current = _log_p_star(n, s, az, logits, lse, base)
        log_w += current - previous
        if s == 1.0:
            out[n] = (log_w + model.hidden_dim * math.log(2.0)).cpu().numpy()
        sweep = (
            s < 1.0 or n < SWEEPS_PER_WORD_SCALE or n % math.ceil(n / SWEEPS_PER_WORD_SCALE) == 0
        )
        if sweep:  # one block-Gibbs sweep that leaves p*_{N,s} invariant
            x = _words((logits - lse[:, None]).exp(), n)
            extra = torch.multinomial(torch.softmax((1.0 - s) * base + s * logits, -1), 1)
            x.scatter_add_(1, extra, torch.full(extra.shape, s, dtype=x.dtype, device=device))
            z = torch.bernoulli(torch.sigmoid((n + s) * a + x @ w))
            logits, az = b + z @ w.T, z @ a
            lse = torch.logsumexp(logits, -1)
            previous = _log_p_star(n, s, az, logits, lse, base)
        else:  # the same z: the same value
            previous = current
    return PartitionEstimate(out, len(path), steps)
