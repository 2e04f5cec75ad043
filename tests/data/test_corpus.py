"""One Corpus protocol serves the bag-of-words and sentence corpora, and a user's own."""

import numpy as np
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.data import BowCorpus, Corpus
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.evaluation import evaluate
from ppl_vae.guides import DiagonalGaussianGuide
from ppl_vae.models import NVDM
from ppl_vae.training import train


def test_both_corpora_are_corpora(tiny_corpus):
    assert isinstance(tiny_corpus.train, BowCorpus) and isinstance(tiny_corpus.train, Corpus)
    assert isinstance(load_sentence_data().train, Corpus)
    assert not isinstance([1, 2, 3], Corpus)


class DenseCorpus:
    """A user's own corpus: a dense count matrix and nothing but the protocol's members."""

    eval_batch_size = 16

    def __init__(self, counts: torch.Tensor) -> None:
        self.counts = counts

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def vocab_size(self) -> int:
        return self.counts.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        return self.counts.sum(1).numpy()

    def batch_indices(self, batch_size, shuffle=False, generator=None):
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        return [order[i : i + batch_size].numpy() for i in range(0, len(self), batch_size)]

    def make_batch(self, idx, device="cpu"):
        return (self.counts[torch.as_tensor(idx)].to(device),)

    def eval_batches(self, batch_size, device="cpu", by_length=False):
        for idx in self.batch_indices(batch_size):
            yield self.make_batch(idx, device), self.lengths[idx]


def test_a_users_own_corpus_trains_and_evaluates(tiny_corpus):
    mine = DenseCorpus(tiny_corpus.train.dense(range(len(tiny_corpus.train))))
    assert isinstance(mine, Corpus)
    model, guide = NVDM(mine.vocab_size, 3), DiagonalGaussianGuide(mine.vocab_size, 3, (16,))
    before = evaluate(model, guide, mine, num_samples=2).ppl_doc_elbo
    result = train(model, guide, mine, mine, TrainConfig(epochs=3, lr=1e-2), progress=False)
    assert result.status == "completed" and len(result.history) == 3
    assert evaluate(model, guide, mine, num_samples=2).ppl_doc_elbo < before
