r"""The mixture of multinomials (a mixture of unigrams) for bags of words.

Each document is about one class ``z``, and all of its words are drawn from that class's word
distribution. Nigam, McCallum, Thrun and Mitchell (2000), "Text classification from labeled and
unlabeled documents using EM", Machine Learning 39; fitted by EM (Dempster, Laird and Rubin,
1977) in :mod:`ppl_vae.infer.em`, and by SVI with the class enumerated in
:mod:`ppl_vae.infer.mixture_svi`.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.distributions import BagOfWords
from ppl_vae.ops.exact import log_evidence, log_posterior


def safe_log(p: torch.Tensor) -> torch.Tensor:
    """``log p`` with ``0`` mapped to the most negative finite float instead of ``-inf``.

    Then ``x * safe_log(p)`` is ``0`` where the count ``x`` is 0 (not ``0 * -inf = nan``) and
    still overflows to ``-inf`` where a word of probability 0 occurs.
    """
    return p.log().clamp_min(torch.finfo(p.dtype).min)


def mixture_log_joint(
    x: torch.Tensor, log_weights: torch.Tensor, log_topics: torch.Tensor
) -> torch.Tensor:
    r"""``log p(x_d, z_d = k) = log pi_k + sum_v x_dv log beta_kv`` as a ``(D, K)`` matrix.

    :param x: ``(D, V)`` word counts.
    :param log_weights: ``(K,)`` log class probabilities ``log pi``.
    :param log_topics: ``(K, V)`` log word probabilities ``log beta`` of each class.
    """
    finite = log_topics.clamp_min(torch.finfo(log_topics.dtype).min)
    return x.to(finite.dtype) @ finite.T + log_weights


class MixtureOfMultinomials(nn.Module):
    r"""A mixture of multinomials with Dirichlet priors on its parameters, as a Pyro model.

    .. math::
        \pi \sim \operatorname{Dir}(\alpha_\pi 1_K), \quad
        \beta_k \sim \operatorname{Dir}(\alpha_\beta 1_V), \quad
        z_d \sim \operatorname{Cat}(\pi), \quad
        \log p(x_d \mid z_d, \beta) = \sum_v x_{dv} \log \beta_{z_d v} .

    The likelihood is :class:`~ppl_vae.distributions.BagOfWords` (no multinomial coefficient),
    so ``log p(x_d)`` gives the perplexities of Miao et al. (2016) and of NVDM.

    Sites: the global ``"weights"`` (``(K,)``, ``pi``) and ``"topics"`` (``(K, V)``, ``beta``,
    in the plate ``"components"``) lie outside the data plate ``"documents"``, which holds the
    class ``"z"`` (marked ``infer={"enumerate": "parallel"}``, so
    :class:`~pyro.infer.TraceEnum_ELBO` sums it out exactly) and the observed counts ``"x"``.
    With a point-mass (:class:`~pyro.infer.autoguide.AutoDelta`) guide on the global sites, the
    negative ELBO is minus the MAP objective ``sum_d log p(x_d | pi, beta) + log p(pi, beta)``.

    :param vocab_size: V.
    :param num_components: K.
    :param weight_concentration: ``alpha_pi``; 1 is a flat prior on the class weights.
    :param beta_concentration: ``alpha_beta``; a value above 1 adds ``alpha_beta - 1``
        pseudo-counts of every word to every class at the MAP estimate.
    """

    def __init__(
        self,
        vocab_size: int,
        num_components: int,
        weight_concentration: float = 1.0,
        beta_concentration: float = 2.0,
    ) -> None:
        super().__init__()
        if weight_concentration <= 0 or beta_concentration <= 0:
            raise ValueError("Dirichlet concentrations must be positive")
        self.vocab_size = vocab_size
        self.num_components = num_components
        self.weight_concentration = float(weight_concentration)
        self.beta_concentration = float(beta_concentration)

    def weight_prior(self, dtype: torch.dtype = torch.float32) -> dist.Dirichlet:
        """``Dir(alpha_pi 1_K)``."""
        return dist.Dirichlet(
            torch.full((self.num_components,), self.weight_concentration, dtype=dtype)
        )

    def topic_prior(self, dtype: torch.dtype = torch.float32) -> dist.Dirichlet:
        """``Dir(alpha_beta 1_V)``, batched over the K classes."""
        shape = (self.num_components, self.vocab_size)
        return dist.Dirichlet(torch.full(shape, self.beta_concentration, dtype=dtype))

    def forward(
        self,
        x: torch.Tensor,
        annealing_factor: float = 1.0,
        corpus_size: int | None = None,
    ) -> torch.Tensor:
        """Score the ``(batch, V)`` count matrix ``x``; returns the classes ``z``.

        :param annealing_factor: accepted so the model fits the trainer's signature, and
            ignored: the class is summed out exactly, so there is no KL term to anneal.
        :param corpus_size: the number of documents in the whole corpus when ``x`` is a
            minibatch of it. The data plate is then scaled by ``corpus_size / batch``, so that
            the ELBO is an unbiased estimate of the full-corpus MAP objective (Hoffman et al.,
            2013, "Stochastic variational inference"). ``None`` means ``x`` is the corpus.
        """
        del annealing_factor
        batch = x.shape[0]
        weights = pyro.sample("weights", self.weight_prior(x.dtype))
        with pyro.plate("components", self.num_components):
            topics = pyro.sample("topics", self.topic_prior(x.dtype))
        size = batch if corpus_size is None else int(corpus_size)
        subsample = None if corpus_size is None else torch.arange(batch, device=x.device)
        with pyro.plate("documents", size, subsample=subsample):
            z = pyro.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
            logits = safe_log(topics)[z]
            pyro.sample("x", BagOfWords(logits, total_count=x.sum(-1)), obs=x)
        return z

    @staticmethod
    def exact_log_likelihood(
        x: torch.Tensor, weights: torch.Tensor, topics: torch.Tensor
    ) -> torch.Tensor:
        r"""``log p(x_d) = logsumexp_k (log pi_k + sum_v x_dv log beta_kv)``, shape ``(D,)``.

        :param x: ``(D, V)`` counts.
        :param weights: ``(K,)`` class probabilities ``pi`` (the ``"weights"`` site).
        :param topics: ``(K, V)`` word probabilities ``beta`` (the ``"topics"`` site).
        """
        return log_evidence(mixture_log_joint(x, weights.log(), topics.log()))

    @staticmethod
    def posterior(x: torch.Tensor, weights: torch.Tensor, topics: torch.Tensor) -> torch.Tensor:
        """The exact responsibilities ``p(z_d = k | x_d)`` as a ``(D, K)`` matrix."""
        return log_posterior(mixture_log_joint(x, weights.log(), topics.log())).exp()
