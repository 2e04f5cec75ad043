"""The Replicated Softmax's exact conditional ``P(z | x)``, as a guide."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from ppl_vae.guides.base import Guide


class RSMConditionalGuide(Guide):
    r"""``q(z | x) = P(z | x) = prod_j Bernoulli(sigmoid(N a_j + x^T W_{:j}))``: the
    lecture's "inference network" of an RBM, which for a
    :class:`~ppl_vae.models.ReplicatedSoftmax` is exact and shares the model's weights (it has
    no parameters of its own). Samples ``"z"`` in the plate ``"documents"``.

    With it, the ELBO of the model is ``log P(x)`` itself, for the lengths whose ``log Z_N``
    the model knows. It trains only by contrastive divergence (``"cd"``): an ELBO step would
    need ``log Z_N`` and its gradient, which are intractable.
    """

    name = "rsm-conditional"
    fits = ("rsm",)
    reparameterized = False
    analytic_kl = False
    default_objective = "cd"
    objectives = ("cd",)
    needs_model = True
    exact_conditional = True
    has_network = False

    def __init__(self, vocab_size: int = 0, latent_dim: int = 0, *, model, **_: object) -> None:
        super().__init__()
        object.__setattr__(self, "_model", model)  # deliberately not a submodule

    @property
    def model(self):
        """The Replicated Softmax whose conditional this is."""
        return self._model

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``P(z_j = 1 | x)``, ``(B, H)``."""
        return self.model.hidden_probs(x)

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        with pyro.plate("documents", x.shape[0]):
            return pyro.sample("z", dist.Bernoulli(self.encode(x)).to_event(1))
