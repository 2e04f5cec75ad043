"""Generative models of text, as Pyro models (installed as ``ppl_vae.models``)."""

from ppl_vae.models.bag_of_words import BagOfWordsModel
from ppl_vae.models.docnade import DocNADE
from ppl_vae.models.lda import LDA
from ppl_vae.models.mixture import MixtureOfMultinomials
from ppl_vae.models.nvdm import NVDM
from ppl_vae.models.rnnlm import RNNLM
from ppl_vae.models.rsm import ReplicatedSoftmax
from ppl_vae.models.sbn import SigmoidBeliefNetwork
from ppl_vae.models.sentence_autoencoder import SentenceAutoencoder
from ppl_vae.models.sentence_vae import SentenceVAE

__all__ = [
    "BagOfWordsModel",
    "DocNADE",
    "LDA",
    "MixtureOfMultinomials",
    "NVDM",
    "RNNLM",
    "ReplicatedSoftmax",
    "SentenceAutoencoder",
    "SentenceVAE",
    "SigmoidBeliefNetwork",
]
