import pytest
import torch

from ppl_vae.data.sentences import make_synthetic_sentences
from ppl_vae.data.synthetic_sentences import SentenceSpec
from ppl_vae.evaluation.generation import (
    BOS,
    EOS,
    PAD,
    beam_decode,
    decode,
    encode_sentences,
    greedy_decode,
    interpolate,
    reconstruct,
    sample_decode,
    to_text,
)
from ppl_vae.guides import LSTMEncoderGuide
from ppl_vae.models import SentenceVAE


@pytest.fixture
def pair():
    torch.manual_seed(0)
    data = make_synthetic_sentences(SentenceSpec(train=50, valid=5, test=5))
    V = len(data.vocab)
    model = SentenceVAE(V, latent_dim=4, embedding_dim=8, hidden_dim=16).eval()
    guide = LSTMEncoderGuide(V, latent_dim=4, embedding_dim=8, hidden_dim=16).eval()
    return model, guide, data.vocab


def sentence_log_prob(model, z, ids):
    """log p(ids | z), counting tokens up to and including the first <eos>."""
    logits = model.decode_logits(z, ids)
    lp = torch.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    keep = torch.cumsum((ids == EOS).long(), 1) - (ids == EOS).long() == 0
    return (lp * (keep & (ids != PAD))).sum(1)


def test_beam_of_one_is_greedy(pair):
    model, _, _ = pair
    z = torch.randn(6, 4)
    greedy, beam = greedy_decode(model, z, 12), beam_decode(model, z, 12, beam=1)
    width = max(greedy.shape[1], beam.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
    assert torch.equal(pad(greedy), pad(beam))


def test_wider_beam_is_never_less_probable_than_greedy(pair):
    model, _, _ = pair
    z = torch.randn(4, 4)
    with torch.no_grad():
        model.decoder.output.bias[EOS] += 2.0  # sentences that end within the limit
        greedy, beam = greedy_decode(model, z, 20), beam_decode(model, z, 20, beam=5)
        assert (
            sentence_log_prob(model, z, beam) >= sentence_log_prob(model, z, greedy) - 1e-4
        ).all()


@pytest.mark.parametrize("method", ["greedy", "sample", "beam"])
def test_specials_are_never_generated(pair, method):
    model, _, _ = pair
    with torch.no_grad():
        model.decoder.output.bias[[PAD, BOS]] = 50.0  # a model that loves them
    ids = decode(model, torch.randn(5, 4), 10, method, temperature=1.0, beam=3)
    assert not ((ids == BOS).any())
    # <pad> only after <eos>
    ended = torch.cumsum((ids == EOS).long(), 1) > 0
    assert not ((ids == PAD) & ~ended).any()


def test_temperature_must_be_positive(pair):
    with pytest.raises(ValueError, match="temperature"):
        sample_decode(pair[0], torch.randn(1, 4), 5, temperature=0.0)


def test_reconstruction_and_interpolation_rows(pair):
    model, guide, vocab = pair
    sentence = " ".join(vocab.words[4:8])
    rows = reconstruct(model, guide, vocab, [sentence, sentence], samples=3, max_length=8)
    assert len(rows) == 2 and len(rows[0]["samples"]) == 3 and rows[0]["input"] == sentence
    path = interpolate(
        model, guide, vocab, sentence, " ".join(vocab.words[8:10]), steps=5, max_length=8
    )
    assert len(path) == 5 and path[0] == rows[0]["mean"]


def test_reconstruction_and_interpolation_can_use_beam_search(pair):
    model, guide, vocab = pair
    a, b = " ".join(vocab.words[4:8]), " ".join(vocab.words[8:10])
    tokens, lengths, _ = encode_sentences(vocab, [a, b])
    loc, _ = guide.encode(tokens, lengths)
    beamed = [to_text(vocab, beam_decode(model, loc[i : i + 1], 8, beam=3))[0] for i in (0, 1)]
    rows = reconstruct(model, guide, vocab, [a], samples=2, max_length=8, beam=3)
    assert rows[0]["mean"] == beamed[0] and len(rows[0]["samples"]) == 2
    path = interpolate(model, guide, vocab, a, b, steps=3, max_length=8, beam=3)
    assert [path[0], path[-1]] == beamed
