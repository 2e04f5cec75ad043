"""Inference networks, as Pyro guides (installed as ``ppl_vae.guides``)."""

from ppl_vae.guides.base import Guide
from ppl_vae.guides.bernoulli import BernoulliGuide
from ppl_vae.guides.bilstm_encoder import BiLSTMEncoderGuide
from ppl_vae.guides.deterministic_encoder import DeterministicEncoderGuide
from ppl_vae.guides.diagonal_gaussian import (
    CountEncoderGuide,
    DiagonalGaussianGuide,
    OneLayerGaussianGuide,
)
from ppl_vae.guides.dirichlet import DirichletGuide
from ppl_vae.guides.full_covariance import FullCovarianceGaussianGuide
from ppl_vae.guides.iaf import IAFGuide
from ppl_vae.guides.lstm_encoder import LSTMEncoderGuide
from ppl_vae.guides.mean_pool_encoder import MeanPoolEncoderGuide
from ppl_vae.guides.no_latent import NoLatentGuide
from ppl_vae.guides.rsm_conditional import RSMConditionalGuide
from ppl_vae.guides.score_function import ScoreFunctionGaussianGuide
from ppl_vae.guides.semi_amortized import SemiAmortizedGuide
from ppl_vae.guides.sentence_gaussian import SentenceGaussianGuide

__all__ = [
    "BernoulliGuide",
    "CountEncoderGuide",
    "BiLSTMEncoderGuide",
    "DeterministicEncoderGuide",
    "DiagonalGaussianGuide",
    "DirichletGuide",
    "FullCovarianceGaussianGuide",
    "Guide",
    "IAFGuide",
    "LSTMEncoderGuide",
    "MeanPoolEncoderGuide",
    "NoLatentGuide",
    "OneLayerGaussianGuide",
    "RSMConditionalGuide",
    "ScoreFunctionGaussianGuide",
    "SemiAmortizedGuide",
    "SentenceGaussianGuide",
]
