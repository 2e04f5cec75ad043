"""Inference networks, as Pyro guides (installed as ``ppl_vae.guides``)."""

from ppl_vae.guides.bernoulli import BernoulliGuide
from ppl_vae.guides.diagonal_gaussian import DiagonalGaussianGuide
from ppl_vae.guides.lstm_encoder import LSTMEncoderGuide
from ppl_vae.guides.no_latent import NoLatentGuide

__all__ = ["BernoulliGuide", "DiagonalGaussianGuide", "LSTMEncoderGuide", "NoLatentGuide"]
