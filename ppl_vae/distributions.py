"""Likelihoods for text."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pyro.distributions import TorchDistribution, constraints


class BagOfWords(TorchDistribution):
    r"""The likelihood of a document's words given word probabilities ``softmax(logits)``.

    ``log_prob(x) = sum_v x_v log p_v``: the probability of the document's token sequence, which
    the counts ``x`` summarize. This is the likelihood of NVDM (Miao et al., 2016) and the one
    perplexity is defined by. It deliberately omits the multinomial coefficient
    ``log(N! / prod_v x_v!)`` that :class:`~pyro.distributions.Multinomial` adds: that term does
    not depend on the parameters, but it would make reported perplexities far too low.

    :param logits: ``(..., V)`` unnormalized log word probabilities.
    :param total_count: document lengths, needed only to :meth:`sample`; an int or a tensor that
        broadcasts to the batch shape.
    """

    arg_constraints = {"logits": constraints.real_vector}
    support = constraints.independent(constraints.nonnegative_integer, 1)

    def __init__(
        self,
        logits: torch.Tensor,
        total_count: int | torch.Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        self.logits = torch.log_softmax(logits, -1)  # a fused backward, unlike x - logsumexp(x)
        self.total_count = total_count
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=validate_args)

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    @property
    def mean(self) -> torch.Tensor:
        if self.total_count is None:
            raise NotImplementedError("BagOfWords needs total_count for its mean")
        n = torch.as_tensor(self.total_count, dtype=self.logits.dtype, device=self.logits.device)
        return self.probs * n.unsqueeze(-1)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(BagOfWords, _instance)
        batch_shape = torch.Size(batch_shape)
        new.logits = self.logits.expand(batch_shape + self.event_shape)
        new.total_count = (
            self.total_count.expand(batch_shape)
            if isinstance(self.total_count, torch.Tensor)
            else self.total_count
        )
        super(BagOfWords, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return (value * self.logits).sum(-1)

    def sample(self, sample_shape: torch.Size | tuple = ()) -> torch.Tensor:
        """Word counts of documents with ``total_count`` tokens each."""
        if self.total_count is None:
            raise NotImplementedError("BagOfWords needs total_count to sample")
        shape = torch.Size(sample_shape) + self.batch_shape
        n = torch.as_tensor(self.total_count, device=self.logits.device).long().expand(shape)
        V = self.event_shape[0]
        n_max = int(n.max()) if n.numel() else 0
        flat_logits = self.logits.expand(shape + self.event_shape).reshape(-1, V)
        with torch.no_grad():
            tokens = torch.distributions.Categorical(logits=flat_logits).sample((max(n_max, 1),))
            keep = torch.arange(max(n_max, 1), device=n.device).unsqueeze(-1) < n.reshape(1, -1)
            counts = torch.zeros(flat_logits.shape, dtype=self.logits.dtype, device=n.device)
            counts.scatter_add_(1, tokens.T, keep.T.to(counts.dtype))
        return counts.reshape(shape + self.event_shape)


class WordCategorical(TorchDistribution):
    r"""One word per position: ``p(x_t = v) = softmax(logits_t)_v``, with batch shape
    ``logits.shape[:-1]`` and scalar events.

    The same distribution as :class:`~pyro.distributions.Categorical` with ``logits``, for the
    token sites of sentence models, where the vocabulary is large. ``Categorical`` normalizes
    its logits as ``x - logsumexp(x)``; this class uses ``log_softmax``, whose fused backward
    pass is about 2.5 times faster on a ``(32, 25, 10000)`` batch, and its ``log_prob`` is a
    single ``gather``. That normalization is most of the cost of a sentence VAE's step beyond
    the LSTMs (see ``benchmarks/bench_sentence.py``).

    :param logits: ``(..., V)`` unnormalized log word probabilities.
    """

    arg_constraints = {"logits": constraints.real_vector}

    def __init__(self, logits: torch.Tensor, validate_args: bool | None = None) -> None:
        self.logits = torch.log_softmax(logits, -1)
        super().__init__(logits.shape[:-1], torch.Size(), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.logits.shape[-1] - 1)

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(WordCategorical, _instance)
        batch_shape = torch.Size(batch_shape)
        new.logits = self.logits.expand(batch_shape + self.logits.shape[-1:])
        super(WordCategorical, new).__init__(batch_shape, torch.Size(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        logits = self.logits
        if value.shape[:-1] != logits.shape[:-1]:
            shape = torch.broadcast_shapes(value.shape[:-1], logits.shape[:-1])
            logits = logits.expand(shape + logits.shape[-1:])
            value = value.expand(shape + (1,))
        return logits.gather(-1, value).squeeze(-1)

    def sample(self, sample_shape: torch.Size | tuple = ()) -> torch.Tensor:
        with torch.no_grad():
            return torch.distributions.Categorical(logits=self.logits).sample(sample_shape)


def document_lengths(
    x: torch.Tensor | None, lengths: torch.Tensor | Sequence[int] | int | None
) -> torch.Tensor:
    """Words per document for a bag-of-words model's ``"x"`` site: the row sums of the count
    matrix ``x`` when scoring it, or ``lengths`` when generating (``x`` is None): one length
    per document to generate, or an int for one document of that length."""
    if x is not None:
        if lengths is not None:
            raise ValueError("give the counts x or the lengths of documents to generate, not both")
        return x.sum(-1)
    if lengths is None:
        raise ValueError("to generate documents (x=None), give their lengths, e.g. lengths=[100]")
    lengths = torch.as_tensor(lengths, dtype=torch.get_default_dtype()).reshape(-1)
    if (lengths < 0).any() or (lengths != lengths.round()).any():
        raise ValueError(f"document lengths must be whole numbers >= 0, got {lengths.tolist()}")
    return lengths


def unigram_logits(word_counts: torch.Tensor) -> torch.Tensor:
    """Log frequencies of the words, add-one smoothed: a decoder bias that makes ``z = 0`` give
    the background (unigram) distribution of the training corpus."""
    freq = torch.as_tensor(word_counts, dtype=torch.float32) + 1.0
    return (freq / freq.sum()).log()
