r"""Contrastive divergence for the Replicated Softmax RBM.

Hinton (2002), "Training Products of Experts by Minimizing Contrastive Divergence", Neural
Computation; persistent CD: Tieleman (2008), "Training Restricted Boltzmann Machines using
Approximations to the Likelihood Gradient", ICML; the Replicated Softmax: Salakhutdinov and
Hinton (2009), NIPS.

The lecture's slide, for a batch of documents ``x``:

1. compute ``P(z | x)`` and sample ``z`` (the "inference network");
2. sample ``x' ~ P(x | z)`` (the "generative network": as many words as ``x`` has), then
   ``z' ~ P(z | x')``; with ``k`` steps, repeat ``k`` times;
3. move towards ``(x, z)`` and away from ``(x', z')``.

For the RSM's energy ``-E(x, z) = x^T W z + x^T b + N a^T z``, step 3 is

.. math::
    \Delta W \propto x\, P(z \mid x)^\top - x'\, P(z \mid x')^\top, \qquad
    \Delta b \propto x - x', \qquad
    \Delta a \propto N \big(P(z \mid x) - P(z \mid x')\big),

summed over the batch (the hidden units' probabilities stand in for their samples in the
statistics, which lowers the variance, as in Hinton's practical guide).
:meth:`ContrastiveDivergence.update` computes these three arrays in the open. The trainer's
optimizer then applies them: the loss tensor this objective returns has the value of the
batch's reconstruction error and the gradient ``-Delta``: it is ``combine(loss, -sum(theta *
Delta))``, whose derivative in ``theta`` is ``-Delta`` itself. So momentum, weight decay,
clipping and checkpoints are the loop's own.

**Why CD is not the likelihood's gradient.** ``d log P(x) / d theta`` is the data term minus
the expectation of the same statistics under the model's equilibrium distribution
``P(x', z')``. CD replaces that expectation by a sample from a ``k``-step Gibbs chain started at
the data, which has not reached equilibrium: the update is biased towards the data, it
approximately follows the difference of two KL divergences rather than the log-likelihood
(Hinton, 2002), and in general it is the gradient of no function at all (Sutskever and
Tieleman, 2010). It is cheap and of low variance, and the bias shrinks as ``k`` grows.
Persistent CD keeps the negative chains running between updates (their hidden states live on
the model, :attr:`~ppl_vae.models.ReplicatedSoftmax.chains`), so that they approach the
model's distribution while the weights change slowly.

The model's likelihood is then measured apart from training, by annealed importance sampling
(:mod:`ppl_vae.infer.ais`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pyro.infer import ELBO

from ppl_vae.infer.base import Objective, combine


@dataclass
class CDUpdate:
    """The CD-k ascent direction of a batch, summed over its documents, and the batch's
    states: the data's hidden probabilities and the negative phase's documents and hidden
    probabilities."""

    weight: torch.Tensor  # (V, H)
    visible_bias: torch.Tensor  # (V,)
    hidden_bias: torch.Tensor  # (H,)
    hidden_probs: torch.Tensor  # (B, H), P(z | x)
    negative_visible: torch.Tensor  # (B, V), x'
    negative_hidden_probs: torch.Tensor  # (B, H), P(z | x')


def reconstruction_nll(model, x: torch.Tensor, hidden_probs: torch.Tensor | None = None):
    """The reconstruction error of each document, ``(B,)``: ``-sum_v x_v log
    softmax(b + W P(z | x))_v``, the words' log-loss when decoded from the mean hidden
    state. It is what CD training is watched by (it is not ``-log P(x)``)."""
    probs = model.hidden_probs(x) if hidden_probs is None else hidden_probs
    return -(x * torch.log_softmax(model.visible_logits(probs), -1)).sum(-1)


class ContrastiveDivergence(Objective, ELBO):
    """``"cd"``: CD-``steps`` (Hinton, 2002), or persistent CD when the model keeps chains
    (:class:`~ppl_vae.models.ReplicatedSoftmax` with ``persistent_chains > 0``).

    Its loss is the batch's summed reconstruction error (:func:`reconstruction_nll`); its
    gradient is minus the CD update (:meth:`update`). Trains the
    :class:`~ppl_vae.models.ReplicatedSoftmax` with its exact conditional
    (:class:`~ppl_vae.guides.RSMConditionalGuide`).

    :param steps: k, the Gibbs steps of the negative phase (1: CD-1).
    """

    name = "cd"
    requires = ("exact_conditional",)
    normalized = False
    config_options = ("cd_steps",)

    @classmethod
    def from_options(cls, num_particles=1, free_bits=0.5, vectorize_particles=False, cd_steps=1):
        return cls(steps=cd_steps)

    def __init__(self, steps: int = 1) -> None:
        if steps < 1:
            raise ValueError(f"contrastive divergence needs at least one Gibbs step, got {steps}")
        super().__init__(num_particles=1)
        self.steps = steps

    def _get_trace(self, model, guide, args, kwargs):  # pragma: no cover - not trace-based
        raise NotImplementedError

    @torch.no_grad()
    def update(self, model, x: torch.Tensor) -> CDUpdate:
        """The CD-k update of the batch ``x`` (``(B, V)`` counts), as the lecture's slide
        states it. With persistent chains, the negative phase starts from the model's chains
        (the first B of them) instead of the data's hidden sample, and leaves them there."""
        n = x.sum(-1)
        # positive phase: the inference network at the data, and a sample of z
        ph0 = model.hidden_probs(x)
        persistent = model.persistent_chains > 0
        if persistent and x.shape[0] > model.persistent_chains:
            raise ValueError(
                f"persistent CD keeps {model.persistent_chains} chains, fewer than the batch's "
                f"{x.shape[0]} documents; build the model with persistent_chains >= batch size"
            )
        z = model.chains[: x.shape[0]].clone() if persistent else torch.bernoulli(ph0)
        # negative phase: k steps of block Gibbs, x' ~ P(x | z) with N words, z' ~ P(z | x')
        for _ in range(self.steps):
            xk = model.sample_visible(z, n)
            phk = model.hidden_probs(xk)
            z = torch.bernoulli(phk)
        if persistent:
            model.chains[: x.shape[0]] = z
        # towards (x, z), away from (x', z')
        return CDUpdate(
            weight=x.T @ ph0 - xk.T @ phk,
            visible_bias=(x - xk).sum(0),
            hidden_bias=(n[:, None] * (ph0 - phk)).sum(0),
            hidden_probs=ph0,
            negative_visible=xk,
            negative_hidden_probs=phk,
        )

    def differentiable_loss(self, model, guide, x, annealing_factor=1.0) -> torch.Tensor:
        """The batch's summed reconstruction error, carrying minus the CD update as its
        gradient in the model's weights, visible biases and hidden biases."""
        if float(annealing_factor) != 1.0:
            raise ValueError(
                "contrastive divergence has no KL term to anneal; use --anneal constant --beta 1"
            )
        step = self.update(model, x)
        with torch.no_grad():
            loss = reconstruction_nll(model, x, step.hidden_probs).sum()
        surrogate = -(
            (model.weight * step.weight).sum()
            + (model.visible_bias * step.visible_bias).sum()
            + (model.hidden_bias * step.hidden_bias).sum()
        )
        return combine(loss, surrogate)

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            x = args[0]
            return float(reconstruction_nll(model, x).sum())

    @torch.no_grad()
    def validation_record(self, model, guide, data, device, seed: int) -> dict:
        """Per-document means over ``data`` of the reconstruction error and the free energy
        ``F(x)`` (a rising gap between the training and validation free energies is the RBM's
        sign of overfitting; Hinton's practical guide, section 6)."""
        model.eval()
        total_rec, total_free, count = 0.0, 0.0, 0
        for args, _ in data.eval_batches(500, device):
            x = args[0]
            total_rec += float(reconstruction_nll(model, x).double().sum())
            total_free += float(model.free_energy(x).double().sum())
            count += x.shape[0]
        return {
            "valid_reconstruction": total_rec / max(count, 1),
            "valid_free_energy": total_free / max(count, 1),
        }
