"""The deterministic encoder of the sentence autoencoder."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from ppl_vae.guides.lstm_encoder import LSTMEncoderGuide
from ppl_vae.ops.params import register


class DeterministicEncoderGuide(LSTMEncoderGuide):
    r"""``q(z | x) = \delta(z - mu(x))``: the LSTM encoder's mean, without noise.

    The same network as :class:`~ppl_vae.guides.LSTMEncoderGuide` (its ``log_scale`` head is
    kept, unused, so that the two guides' weights have the same keys); ``"z"`` is a
    :class:`~pyro.distributions.Delta` in the plate ``"sentences"``. :meth:`encode` returns
    ``(mu, 0)``, so reconstruction's ``SAMP`` rows equal its ``MEAN`` row. It pairs with
    :class:`~ppl_vae.models.SentenceAutoencoder`, whose flat prior makes the ELBO the
    reconstruction log-likelihood.
    """

    name = "deterministic"
    fits = ("sentence-ae",)
    analytic_kl = False  # no KL at all: the point mass against a flat prior
    default_objective = "trace"
    #: its ELBO is the reconstruction log-likelihood: the other objectives have nothing to add
    #: (no KL to weight or clamp, nothing to importance-weight) or need a prior to dream from
    objectives = ("trace",)
    deterministic = True
    closed_form_gaussian = False
    module_name = "deterministic_encoder"

    def encode(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, 0)``, each ``(B, latent_dim)``."""
        loc = self.loc(self.features(tokens, lengths))
        return loc, torch.zeros_like(loc)

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, annealing_factor: float = 1.0
    ) -> torch.Tensor:
        register(self, self.module_name)
        loc = self.loc(self.features(tokens, lengths))
        with pyro.plate("sentences", tokens.shape[0]):
            return pyro.sample("z", dist.Delta(loc, event_dim=1))
