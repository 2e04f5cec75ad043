"""Corpora: NVDM ``.feat`` bags of words, plain text, and the embedded synthetic default."""

from ppl_vae.data.bow import BowCorpus, LoadReport
from ppl_vae.data.corpus import Corpus
from ppl_vae.data.errors import DataError
from ppl_vae.data.feat import load_feat, load_vocab, save_feat, save_vocab
from ppl_vae.data.splits import SYNTHETIC, DocumentSplits, data_root, load_documents
from ppl_vae.data.synthetic import SyntheticCorpus, SyntheticSpec, make_synthetic_corpus
from ppl_vae.data.text import build_vocab, load_text_bow, tokenize

__all__ = [
    "SYNTHETIC",
    "BowCorpus",
    "Corpus",
    "DataError",
    "DocumentSplits",
    "LoadReport",
    "SyntheticCorpus",
    "SyntheticSpec",
    "build_vocab",
    "data_root",
    "load_documents",
    "load_feat",
    "load_text_bow",
    "load_vocab",
    "make_synthetic_corpus",
    "save_feat",
    "save_vocab",
    "tokenize",
]
