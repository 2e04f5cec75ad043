"""The autoencoder-against-VAE measures: BLEU, reconstruction, fluency and interpolation."""

import math

import pytest
import torch

from ppl_vae.evaluation.latent_space import (
    corpus_bleu,
    degenerate,
    fluency,
    interpolation_scores,
    reconstruction_scores,
)


def test_bleu_by_hand():
    assert corpus_bleu([[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5]]) == pytest.approx(1.0)
    # all precisions 1, brevity penalty exp(1 - 5/4)
    assert corpus_bleu([[1, 2, 3, 4]], [[1, 2, 3, 4, 5]]) == pytest.approx(math.exp(-0.25))
    # precisions 4/5, 3/4, 2/3, 1/2
    expected = (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert corpus_bleu([[1, 2, 3, 4, 6]], [[1, 2, 3, 4, 5]]) == pytest.approx(expected)
    assert corpus_bleu([[7, 8, 9, 10]], [[1, 2, 3, 4]]) == 0.0


def test_degenerate_sentences():
    assert degenerate([]) and degenerate([4, 4, 4]) and not degenerate([4, 5])


class Copier(torch.nn.Module):
    """A decoder that writes out the sentence its code holds: z is the word ids themselves."""

    z_every_step = True

    def decode(self, z, max_length, temperature=None):
        ids = z.round().long().clamp(min=0)[:, :max_length]
        return torch.cat([ids, torch.full((len(ids), 1), 2)], 1)


class Encoder(torch.nn.Module):
    def __init__(self, drop_last_word: bool = False):
        super().__init__()
        self.drop = drop_last_word

    def encode(self, tokens, lengths):
        z = tokens.float().clone()
        z[tokens == 2] = 0  # <eos> -> <pad>
        if self.drop:
            z[torch.arange(len(z)), (lengths - 2).clamp(min=0)] = 0
        return z, torch.zeros_like(z)


@pytest.fixture
def corpus():
    from ppl_vae.data.sentences import SentenceCorpus
    from ppl_vae.data.vocabulary import Vocabulary

    vocab = Vocabulary(["<pad>", "<bos>", "<eos>", "<unk>", *"abcdef"])
    return SentenceCorpus([[4, 5, 6], [7, 8], [9, 4, 5, 6]], vocab)


def test_reconstruction_of_a_perfect_and_of_a_lossy_autoencoder(corpus):
    perfect = reconstruction_scores(Copier(), Encoder(), corpus, examples=1)
    assert perfect["exact_match"] == 1.0 and perfect["token_accuracy"] == 1.0
    assert perfect["bleu"] == pytest.approx(1.0) and perfect["examples"] == [([4, 5, 6], [4, 5, 6])]
    lossy = reconstruction_scores(Copier(), Encoder(drop_last_word=True), corpus)
    assert lossy["exact_match"] == 0.0
    # each sentence loses its last word: 3 + 2 + 4 words plus <eos>: the last word and <eos>
    # are wrong at their positions
    assert lossy["token_accuracy"] == pytest.approx((2 + 1 + 3) / (4 + 3 + 5))


def test_interpolation_between_identical_codes_only_repeats_its_endpoints(corpus):
    scores = interpolation_scores(Copier(), Encoder(), corpus.subset([0, 0, 0]), pairs=4,
                                  steps=5)  # fmt: skip
    assert scores["repeat_or_degenerate"] == 1.0 and scores["distinct_inner"] == 1.0
    assert len(scores["midpoints"]) == 4


def test_fluency_is_the_language_models_nll_per_token():
    from ppl_vae.models import RNNLM

    torch.manual_seed(0)
    lm = RNNLM(10, embedding_dim=4, hidden_dim=5)
    sentences = [[4, 5], [6]]
    tokens = torch.tensor([[4, 5, 2], [6, 2, 0]])
    expected = lm.nll(tokens, torch.tensor([3, 2])).sum().item() / 5
    assert fluency(lm, sentences) == pytest.approx(expected, rel=1e-6)
