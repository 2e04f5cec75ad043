"""The diagonal-Gaussian inference network, trained with score-function gradients."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from ppl_vae.guides.bernoulli import PerWordBaseline, baseline_spec
from ppl_vae.guides.diagonal_gaussian import DiagonalGaussianGuide
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register


class NonReparameterizedIndependent(dist.Independent):
    """:class:`~pyro.distributions.Independent` that reports ``has_rsample = False``, so Pyro's
    ELBOs treat its site with the score function although its base could be reparameterized.

    (``Normal(...).has_rsample_(False).to_event(1)`` does not survive Pyro's plates: they
    re-expand the distribution, which resets the base's flag, and cannot set the flag on
    ``Independent``, where it is a read-only property.)
    """

    has_rsample = False


class ScoreFunctionGaussianGuide(DiagonalGaussianGuide):
    r""":class:`~ppl_vae.guides.DiagonalGaussianGuide`'s ``q(z | x)``, with the
    reparameterization trick switched off.

    The same network and the same ``q``, but ``z`` is sampled without a path to ``mu`` and
    ``sigma``, so the guide's gradient must be estimated with the score function
    ``(log p(x, z) - log q(z | x) - c(x)) * grad log q(z | x)`` (Williams, 1992; the REINFORCE
    estimator of Mnih and Gregor, 2014, "Neural Variational Inference and Learning in Belief
    Networks", NVIL). It exists to measure what the reparameterization trick of Kingma and
    Welling (2014) buys: at the same weights both guides have the same expected gradient, and
    :func:`~ppl_vae.evaluation.gradient_variance.gradient_variance` compares their variances.

    As in NVIL, and :class:`~ppl_vae.guides.BernoulliGuide`, a learned input-dependent
    baseline ``c(x)`` (:class:`~ppl_vae.guides.bernoulli.PerWordBaseline`) is subtracted from
    the learning signal. Pyro uses it only in :class:`~pyro.infer.TraceGraph_ELBO`: train
    with the ``"nvil"`` objective. :class:`~pyro.infer.Trace_ELBO` also gives unbiased
    score-function gradients but ignores the baseline; :class:`~pyro.infer.TraceMeanField_ELBO`
    refuses the guide (it needs reparameterized sites).

    :param vocab_size: V.
    :param latent_dim: K.
    :param baseline_hidden: hidden width of the baseline network (0: Pyro's decaying-average
        baseline, which is kept per batch position, so only for fixed batches).
    :param hidden_sizes: widths of the encoder's hidden layers.
    :param encoder: ``input_transform`` and ``dropout``, as in
        :class:`~ppl_vae.guides.diagonal_gaussian.CountEncoderGuide`.
    """

    name = "score-function"
    reparameterized = False
    default_objective = "nvil"  # the learned baseline is used only by TraceGraph_ELBO
    #: the score-function estimator's rare huge learning signals (log p(x | z) is hundreds of
    #: nats on 20News) otherwise send the encoder to NaN
    default_clip_norm = 10.0

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        *,
        baseline_hidden: int = 100,
        **encoder,
    ) -> None:
        super().__init__(vocab_size, latent_dim, hidden_sizes, **encoder)
        self.baseline = PerWordBaseline.make(vocab_size, baseline_hidden, self.input_transform)

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "score_function_encoder")
        loc, scale = self.encode(x)
        baseline = baseline_spec(self.baseline, x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                q = NonReparameterizedIndependent(dist.Normal(loc, scale), 1)
                return pyro.sample("z", q, infer={"baseline": baseline})
