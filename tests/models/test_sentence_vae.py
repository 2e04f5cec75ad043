import pytest
import torch
from pyro import poutine

from ppl_vae.models import RNNLM, SentenceVAE
from ppl_vae.models.lstm_decoder import shift_right

V, K = 12, 3
BOS, EOS, UNK, PAD = 1, 2, 3, 0


def make(kind: str, **kwargs):
    if kind == "rnnlm":
        return RNNLM(V, embedding_dim=6, hidden_dim=7, **kwargs)
    return SentenceVAE(V, latent_dim=K, embedding_dim=6, hidden_dim=7, **kwargs)


def sentence_log_prob(model, tokens, lengths, z=None):
    """The per-sentence log_prob of site "x" (z fixed for the sentence VAE)."""
    conditioned = poutine.condition(model, data={"z": z}) if z is not None else model
    tr = poutine.trace(conditioned).get_trace(tokens, lengths)
    return tr.nodes["x"]["fn"].log_prob(tr.nodes["x"]["value"])


def test_trace_sites_shapes_and_plate():
    model = make("vae")
    tokens = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD]])
    tr = poutine.trace(model).get_trace(tokens, torch.tensor([4, 2]))
    tr.compute_log_prob()
    assert tr.nodes["z"]["value"].shape == (2, K)
    assert tr.nodes["x"]["fn"].event_shape == (4,)
    assert tr.nodes["x"]["log_prob"].shape == (2,)
    for site in ("z", "x"):
        assert [f.name for f in tr.nodes[site]["cond_indep_stack"]] == ["sentences"]


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        pytest.param("vae", {}, id="sentence-vae"),
        pytest.param("vae", {"z_every_step": False}, id="sentence-vae-z-at-start-only"),
        pytest.param("vae", {"tie_embeddings": True}, id="sentence-vae-tied-embeddings"),
        pytest.param("rnnlm", {}, id="rnnlm"),
        pytest.param("rnnlm", {"tie_embeddings": True}, id="rnnlm-tied-embeddings"),
    ],
)
def test_padding_never_changes_the_log_likelihood(kind, kwargs):
    model = make(kind, **kwargs).eval()
    alone = torch.tensor([[4, 5, EOS]])
    z = torch.randn(1, K)
    batch = torch.tensor([[4, 5, EOS, PAD, PAD, PAD], [6, 7, 8, 9, 10, EOS]])
    garbage = batch.clone()
    garbage[0, 3:] = torch.tensor([11, 4, 9])  # anything past the length is ignored
    zz = torch.cat([z, torch.randn(1, K)]) if kind == "vae" else None
    lengths = torch.tensor([3, 6])
    a = sentence_log_prob(model, alone, torch.tensor([3]), z if kind == "vae" else None)
    b = sentence_log_prob(model, batch, lengths, zz)
    c = sentence_log_prob(model, garbage, lengths, zz)
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(b, c, atol=1e-5)


@pytest.mark.parametrize("p", [0.5, 1.0], ids=["p=0.5", "p=1"])
def test_word_dropout_only_in_training(p):
    model = make("vae", word_dropout=p)
    tokens = torch.randint(4, V, (50, 8))
    clean = shift_right(tokens, BOS)
    assert torch.equal(model.eval().decoder_inputs(tokens), clean)
    dropped = model.train().decoder_inputs(tokens)
    assert (dropped[:, 0] == BOS).all()
    replaced = dropped[:, 1:] == UNK
    assert torch.equal(dropped[:, 1:][~replaced], clean[:, 1:][~replaced])
    if p == 1.0:
        assert replaced.all()  # the inputless decoder
    else:
        assert 0.4 < replaced.float().mean() < 0.6


def test_decode_logits_give_the_observed_log_prob():
    model = make("vae").eval()
    tokens, lengths, z = torch.tensor([[4, 5, EOS], [6, EOS, PAD]]), torch.tensor([3, 2]), None
    z = torch.randn(2, K)
    logp = torch.log_softmax(model.decode_logits(z, tokens), -1)
    by_hand = torch.stack(
        [sum(logp[b, t, tokens[b, t]] for t in range(int(lengths[b]))) for b in range(2)]
    )
    assert torch.allclose(sentence_log_prob(model, tokens, lengths, z), by_hand, atol=1e-5)


def test_rnnlm_nll_equals_a_hand_loop_over_the_tokens():
    model = make("rnnlm")
    tokens, lengths = torch.tensor([[4, 5, 6, EOS], [7, EOS, PAD, PAD]]), torch.tensor([4, 2])
    by_hand = []
    for b in range(2):
        state, prev, total = None, BOS, 0.0
        for t in range(int(lengths[b])):
            logits, state = model.decoder(torch.tensor([[prev]]), state)
            total -= torch.log_softmax(logits[0, -1], -1)[tokens[b, t]]
            prev = int(tokens[b, t])
        by_hand.append(total)
    assert torch.allclose(model.nll(tokens, lengths), torch.stack(by_hand), atol=1e-5)
    assert torch.allclose(-sentence_log_prob(model, tokens, lengths), torch.stack(by_hand))


def test_greedy_generation_follows_its_own_argmax():
    model = make("vae").eval()
    z = torch.randn(4, K)
    out = model.generate(z, max_length=6)
    assert out.dtype == torch.int64 and out.shape[0] == 4 and out.shape[1] <= 6
    for row, zrow in zip(out, z):
        ends = (row == EOS).nonzero()
        n = int(ends[0]) + 1 if len(ends) else len(row)
        assert (row[n:] == PAD).all()
        logits = model.decode_logits(zrow[None], row[None, :n])
        assert torch.equal(logits.argmax(-1)[0], row[:n])


@pytest.mark.parametrize("kind", ["vae", "rnnlm"], ids=["sentence-vae", "rnnlm"])
def test_decoder_dropout_acts_only_in_training_and_keeps_the_weights(kind):
    torch.manual_seed(0)
    plain = make(kind)
    if kind == "rnnlm":
        dropped = RNNLM(V, embedding_dim=6, hidden_dim=7, dropout=0.5)
    else:
        dropped = SentenceVAE(V, latent_dim=K, embedding_dim=6, hidden_dim=7, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())  # dropout adds no weights
    tokens, lengths, z = torch.randint(4, V, (5, 6)), torch.full((5,), 6), torch.randn(5, K)
    zz = z if kind == "vae" else None
    assert torch.allclose(
        sentence_log_prob(plain.eval(), tokens, lengths, zz),
        sentence_log_prob(dropped.eval(), tokens, lengths, zz),
    )
    train_a = sentence_log_prob(dropped.train(), tokens, lengths, zz)
    train_b = sentence_log_prob(dropped.train(), tokens, lengths, zz)
    assert not torch.allclose(train_a, train_b)


def test_predictive_generates_sentences_from_the_prior():
    from pyro.infer import Predictive

    from ppl_vae.models.lstm_decoder import length_mask

    model = SentenceVAE(12, latent_dim=3, embedding_dim=8, hidden_dim=8).eval()
    samples = Predictive(model, num_samples=4)(max_length=7, num_sentences=2)
    x = samples["x"]
    assert samples["z"].shape == (4, 2, 3) and x.shape == (4, 2, 7)
    assert not ((x == model.bos_index).any())  # never generated
    for sentence in x.reshape(-1, 7).tolist():  # words, then <eos>, then only <pad>
        n = sentence.index(2) + 1 if 2 in sentence else 7
        assert 0 not in sentence[:n] and set(sentence[n:]) <= {0}
    # the site scores what was generated: log p(x | z) of those ids, as when they are observed
    tr = poutine.trace(model).get_trace(max_length=7, num_sentences=2)
    tokens, z = tr.nodes["x"]["value"], tr.nodes["z"]["value"]
    lengths = (tokens != 0).sum(-1)
    logp = torch.log_softmax(model.decode_logits(z, tokens), -1)
    expected = (logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) * length_mask(lengths, 7)).sum()
    tr.compute_log_prob()
    assert torch.allclose(tr.nodes["x"]["log_prob_sum"], expected)


def test_generation_needs_a_maximum_length():
    with pytest.raises(ValueError, match="max_length"):
        SentenceVAE(12, latent_dim=3, embedding_dim=8, hidden_dim=8)()


def test_predictive_generates_sentences_from_the_rnnlm():
    from pyro.infer import Predictive

    model = RNNLM(12, embedding_dim=8, hidden_dim=8).eval()
    x = Predictive(model, num_samples=3, return_sites=["x"])(max_length=5, num_sentences=2)["x"]
    assert x.shape == (3, 2, 5) and not (x == model.bos_index).any()
