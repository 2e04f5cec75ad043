"""The Neural Variational Document Model.

Miao, Yu and Blunsom (2016), "Neural Variational Inference for Text Processing", ICML.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.models.bag_of_words import BagOfWordsModel


class NVDM(BagOfWordsModel):
    r"""NVDM's generative model of a bag of words.

    .. math::
        z \sim p(z), \qquad
        \log p(x \mid z) = \sum_v x_v \log \operatorname{softmax}(R z + b)_v .

    The prior is the paper's :math:`\mathcal N(0, I_K)`, or with ``prior_components=C > 0`` a
    learned mixture of ``C`` diagonal Gaussians,

    .. math::
        p(z) = \sum_{c=1}^{C} \pi_c \, \mathcal N(z; m_c, \operatorname{diag} s_c^2),

    whose weights, means and scales are trained with the rest (a mixture-of-Gaussians prior in
    the spirit of Tomczak and Welling (2018), "VAE with a VampPrior", AISTATS, with the
    components' parameters learned directly rather than through pseudo-inputs). With a linear
    decoder a single learned Gaussian would add nothing (``R`` and ``b`` absorb its mean and
    scale); a mixture lets the prior put its mass where the documents' codes are, which raises
    the ELBO of short documents most. The KL term then has no closed form and is estimated
    from the guide's draws (as :class:`~pyro.infer.TraceMeanField_ELBO` does by itself).

    Call it with a ``(batch, V)`` count matrix (see
    :class:`~ppl_vae.models.bag_of_words.BagOfWordsModel` for the sites and for generation).

    :param vocab_size: V.
    :param latent_dim: K (50 in the paper's 20 Newsgroups result).
    :param prior_components: C, the mixture prior's components; 0 (default) for ``N(0, I)``.
    """

    #: the name under which configs and the command line know the model
    name = "nvdm"
    #: the guide (by :attr:`ppl_vae.guides.base.Guide.name`) it is trained with by default
    default_guide = "diagonal"
    #: ``p(z) = N(0, I)``: importance-sampled evaluation has a closed form but the expectation
    #: (:mod:`ppl_vae.evaluation.fast_documents`); False for an instance with a mixture prior
    standard_normal_prior = True
    #: ``log p(x | z) = x . log softmax(decoder(z))`` with ``decoder`` an ``nn.Linear``, and
    #: ``prior(batch, like).log_prob`` defined: the fast evaluation applies whatever the prior
    linear_softmax_decoder = True

    def __init__(self, vocab_size: int, latent_dim: int = 50, prior_components: int = 0) -> None:
        super().__init__(vocab_size, latent_dim)
        if prior_components < 0:
            raise ValueError(f"prior_components must be >= 0, got {prior_components}")
        self.decoder = nn.Linear(latent_dim, vocab_size)  # R z + b
        self.prior_components = prior_components
        self.standard_normal_prior = prior_components == 0
        if prior_components:
            # means spread around the origin so that the components start apart, unit scales,
            # equal weights; none of them is pulled by weight decay (they are not weights of a
            # network: shrinking them would only move the prior toward a point)
            self.prior_loc = nn.Parameter(0.5 * torch.randn(prior_components, latent_dim))
            self.prior_log_scale = nn.Parameter(torch.zeros(prior_components, latent_dim))
            self.prior_logits = nn.Parameter(torch.zeros(prior_components))
            for p in (self.prior_loc, self.prior_log_scale, self.prior_logits):
                p.no_weight_decay = True

    def prior(self, batch: int, like: torch.Tensor) -> dist.TorchDistribution:
        """``N(0, I_K)``, or the learned mixture, for ``batch`` documents."""
        if not self.prior_components:
            return dist.Normal(like.new_zeros(batch, self.latent_dim), 1.0).to_event(1)
        components = dist.Normal(self.prior_loc, self.prior_log_scale.exp()).to_event(1)
        mixture = dist.MixtureSameFamily(dist.Categorical(logits=self.prior_logits), components)
        return mixture.expand([batch])
