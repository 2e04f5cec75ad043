"""Contrastive divergence: the CD-1 update against a hand computation, its gradient, persistent
chains, the pairings it refuses, and training on a corpus drawn from a known RSM."""

import pytest
import torch

from ppl_vae.guides import DiagonalGaussianGuide, RSMConditionalGuide
from ppl_vae.infer.contrastive_divergence import ContrastiveDivergence, reconstruction_nll
from ppl_vae.infer.objectives import check_combination
from ppl_vae.models import ReplicatedSoftmax


def three_word_model() -> ReplicatedSoftmax:
    model = ReplicatedSoftmax(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]]))
        model.visible_bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        model.hidden_bias.copy_(torch.tensor([-0.1, 0.2]))
    return model


def test_cd1_update_equals_a_hand_computation_on_three_words_and_two_hidden_units():
    model = three_word_model()
    x = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    torch.manual_seed(7)
    update = ContrastiveDivergence(steps=1).update(model, x)

    # by hand, drawing the same random numbers in the same order
    W, b, a = (t.detach() for t in (model.weight, model.visible_bias, model.hidden_bias))
    sig = lambda t: 1 / (1 + torch.exp(-t))  # noqa: E731
    n = [3.0, 1.0]
    ph0 = torch.tensor([[float(sig(n[d] * a[j] + sum(x[d, v] * W[v, j] for v in range(3))))
                         for j in range(2)] for d in range(2)])  # fmt: skip
    torch.manual_seed(7)
    z = torch.bernoulli(ph0)
    probs = torch.softmax(b + z @ W.T, -1)
    words = torch.multinomial(probs, 3, replacement=True)  # the batch's longest document
    xk = torch.zeros(2, 3)
    for d in range(2):
        for i in range(int(n[d])):
            xk[d, words[d, i]] += 1
    phk = torch.tensor([[float(sig(n[d] * a[j] + sum(xk[d, v] * W[v, j] for v in range(3))))
                         for j in range(2)] for d in range(2)])  # fmt: skip
    dW = torch.zeros(3, 2)
    for d in range(2):
        for v in range(3):
            for j in range(2):
                dW[v, j] += x[d, v] * ph0[d, j] - xk[d, v] * phk[d, j]
    db = (x - xk).sum(0)
    da = sum(n[d] * (ph0[d] - phk[d]) for d in range(2))
    torch.testing.assert_close(update.weight, dW)
    torch.testing.assert_close(update.visible_bias, db)
    torch.testing.assert_close(update.hidden_bias, da)
    torch.testing.assert_close(update.negative_visible, xk)


def test_the_loss_is_the_reconstruction_error_and_its_gradient_minus_the_update():
    model = three_word_model()
    x = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    cd = ContrastiveDivergence()
    torch.manual_seed(3)
    loss = cd.differentiable_loss(model, RSMConditionalGuide(model=model), x)
    loss.backward()
    torch.manual_seed(3)
    update = cd.update(model, x)
    assert loss.item() == pytest.approx(reconstruction_nll(model, x).sum().item())
    torch.testing.assert_close(model.weight.grad, -update.weight)
    torch.testing.assert_close(model.visible_bias.grad, -update.visible_bias)
    torch.testing.assert_close(model.hidden_bias.grad, -update.hidden_bias)


def test_persistent_cd_starts_from_and_leaves_its_chains_on_the_model():
    torch.manual_seed(0)
    model = ReplicatedSoftmax(5, 3, persistent_chains=4)
    x = torch.poisson(torch.full((4, 5), 2.0)) + 1
    cd = ContrastiveDivergence(steps=2)
    cd.update(model, x)
    first = model.chains.clone()
    assert first.abs().sum() > 0  # the chains moved off their all-zero start
    with pytest.raises(ValueError, match="persistent_chains >= batch size"):
        cd.update(model, torch.ones(5, 5))


def test_cd_refuses_kl_annealing_zero_steps_and_guides_that_are_not_an_rbms_conditional():
    model = three_word_model()
    with pytest.raises(ValueError, match="no KL term"):
        ContrastiveDivergence().differentiable_loss(model, None, torch.ones(1, 3), 0.5)
    with pytest.raises(ValueError, match="at least one Gibbs step"):
        ContrastiveDivergence(steps=0)
    with pytest.raises(ValueError, match="exact conditional"):
        check_combination(DiagonalGaussianGuide, "cd")
    with pytest.raises(ValueError, match="trains only with cd"):
        check_combination(RSMConditionalGuide, "meanfield")


def test_training_lowers_the_reconstruction_error_and_raises_the_likelihood_of_rsm_data():
    from ppl_vae.data.bow import BowCorpus
    from ppl_vae.runs import preset
    from ppl_vae.training import train

    # a corpus drawn by Gibbs sampling from a known RSM with strong topics
    torch.manual_seed(0)
    truth = ReplicatedSoftmax(12, 3, gibbs_steps=200)
    with torch.no_grad():
        truth.weight.copy_(3.0 * torch.randn(12, 3))
        truth.hidden_bias.fill_(-0.5)
    lengths = torch.randint(5, 25, (400,)).float()
    docs = truth.generate(lengths)
    vocab = [f"w{i}" for i in range(12)]
    train_set = BowCorpus.from_dense(docs[:300], vocab)
    test_set = BowCorpus.from_dense(docs[300:], vocab)

    model = ReplicatedSoftmax(12, 3)
    model.init_from_corpus(train_set)
    test_x = test_set.dense()

    def figures():
        model.set_log_partition(model.exact_log_partition(test_set.lengths))
        with torch.no_grad():
            return (reconstruction_nll(model, test_x).mean().item(),
                    model.log_likelihood(test_x).mean().item())  # fmt: skip

    rec0, ll0 = figures()
    config = preset("rsm", epochs=30, lr=0.01, latent_dim=3, batch_size=20)
    train(model, RSMConditionalGuide(model=model), train_set, None, config, progress=False)
    rec1, ll1 = figures()
    truth.set_log_partition(truth.exact_log_partition(test_set.lengths))
    ll_truth = truth.log_likelihood(test_x).mean().item()
    assert rec1 < rec0 - 2.0  # nats per document
    # exact log-likelihood: most of the way from the unigram start to the true model's
    assert ll1 > ll0 + 0.6 * (ll_truth - ll0)
