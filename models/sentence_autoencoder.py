"""The deterministic sentence autoencoder: the sentence VAE without noise and without the KL.

The lecture's "VAEs as autoencoders": an LSTM encoder-decoder learns to reconstruct sentences,
but nothing makes its code space smooth; the VAE's Gaussian noise and KL term are what make
nearby codes decode to similar sentences. Bowman et al. (2016), "Generating Sentences from a
Continuous Space", CoNLL, section 2 and Table 7, make the same comparison.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch.distributions import constraints

from ppl_vae.models.lstm_decoder import generated_batch
from ppl_vae.models.sentence_vae import SentenceVAE
from ppl_vae.ops.params import register


class SentenceAutoencoder(SentenceVAE):
    r"""The sentence VAE's decoder with ``z = mu(x)``: no noise, no KL.

    As a Pyro model it is :class:`~ppl_vae.models.SentenceVAE` with a flat (improper) prior on
    ``"z"`` (:class:`~pyro.distributions.ImproperUniform`, log-density 0). Its guide,
    :class:`~ppl_vae.guides.DeterministicEncoderGuide`, puts a point mass
    (:class:`~pyro.distributions.Delta`, log-density 0) on the LSTM encoder's ``mu(x)``. The
    ELBO of the pair is then exactly the reconstruction log-likelihood
    ``log p(x | z = mu(x))``: :class:`~pyro.infer.Trace_ELBO` trains the autoencoder, and
    ``z`` reaches the encoder through the Delta's reparameterized value.

    With a flat prior there is no density ``p(x)``: the "ELBO" that evaluation reports for it
    is the reconstruction log-likelihood, not a bound (:attr:`~ppl_vae.guides.base.Guide.
    deterministic` says so on the guide).

    **Generation.** The autoencoder has no prior to sample, so ``forward(None, ...)`` (and
    ``ppl-vae sample``) draws ``z ~ N(0, I)``, the VAE's prior, by default: the point of the
    comparison is that an autoencoder's codes do not fill that space. ``ppl-vae sample
    --codes`` draws from a Gaussian fitted to the posterior means of the training sentences
    instead (:func:`~ppl_vae.evaluation.generation.fit_codes`), which is the fairer test of
    its code space; the comparison example reports both.
    """

    name = "sentence-ae"
    default_guide = "deterministic"
    standard_normal_prior = False  # evaluation draws no particles from N(0, I)

    def forward(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        annealing_factor: float | torch.Tensor = 1.0,
        max_length: int | None = None,
        num_sentences: int = 1,
    ) -> torch.Tensor:
        """Score the ``(B, T)`` ``tokens`` given the guide's ``"z"`` (``annealing_factor`` is
        accepted, for the guides' signature, and unused: there is no KL term). With
        ``tokens=None``, generate ``num_sentences`` sentences from ``z ~ N(0, I)``."""
        register(self, "sentence_ae")
        batch = num_sentences if tokens is None else tokens.shape[0]
        with pyro.plate("sentences", batch):
            if tokens is None:
                loc = self.init_state.bias.new_zeros((batch, self.latent_dim))
                z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
                context = z if self.z_every_step else None
                tokens, lengths = generated_batch(
                    self.decoder, batch, max_length, self.bos_index, self.eos_index,
                    self._state(z), context,
                )  # fmt: skip
            else:
                flat = dist.ImproperUniform(constraints.real, (batch,), (self.latent_dim,))
                z = pyro.sample("z", flat)
            pyro.sample("x", self.likelihood(z, tokens, lengths), obs=tokens)
        return z
