"""A semi-amortized Gaussian inference network: the encoder's output, refined per document."""

from __future__ import annotations

from collections.abc import Callable

import pyro
import pyro.distributions as dist
import torch

from ppl_vae.guides.base import Guide
from ppl_vae.guides.diagonal_gaussian import DiagonalGaussianGuide
from ppl_vae.ops.annealing import kl_annealing
from ppl_vae.ops.params import register
from ppl_vae.ops.refinement import OPTIMIZERS, refine_gaussian


class SemiAmortizedGuide(Guide):
    r"""``q(z | x) = N(mu, diag sigma^2)`` with ``(mu, log sigma)`` = the amortized encoder's
    output after ``steps`` gradient steps on that document's own ELBO.

    Kim, Wiseman, Miller, Sontag and Rush (2018), "Semi-Amortized Variational Autoencoders",
    ICML. An amortized encoder (a :class:`~ppl_vae.guides.DiagonalGaussianGuide`) gives a
    starting point ``lambda_0(x)``; :func:`~ppl_vae.ops.refinement.refine_gaussian` then runs
    stochastic variational inference on each document's ELBO
    ``E_q[log p(x | z)] - KL(q || N(0, I))`` (reparameterized samples, analytic KL), with the
    model's ``log p(x | z)`` read from a trace of ``model`` with ``"z"`` conditioned. The
    refinement closes part of the *amortization gap* (Cremer, Li and Duvenaud, 2018) between
    the encoder's ``q`` and the best Gaussian for each document.

    The refinement uses the full ELBO (beta = 1) whatever ``annealing_factor`` is: it looks
    for the best ``q`` for the current model; ``annealing_factor`` weights the guide's site
    in the outer objective as usual. It is repeated at every call, evaluation included (the
    guide works under :func:`torch.no_grad`), and costs ``steps`` forward and backward passes
    of the model per call.

    Training: by default (``create_graph=False``) the refined point is a stop-gradient, and
    the encoder is trained as if it had produced the refined point itself (the gradient at
    ``lambda_K`` is applied to ``lambda_0``). ``create_graph=True`` backpropagates through
    the steps, as SA-VAE does, so the encoder learns starting points that refine well; it
    needs second derivatives and keeps every step's graph. Any objective for reparameterized
    guides works (``"meanfield"``, ``"trace"``); free bits too, as ``q`` is a diagonal
    Gaussian.

    :param vocab_size: V.
    :param latent_dim: K.
    :param model: the generative model whose ELBO is refined (it is not registered as a
        submodule: its parameters are not the guide's, and do not appear in its state dict).
    :param steps: refinement steps (0: the amortized guide).
    :param step_size: SGD's step size, or Adam's learning rate. The ELBO's gradient and
        curvature grow with the document length, so SGD's stable step size shrinks with it;
        Adam's does not.
    :param optimizer: ``"sgd"`` or ``"adam"``.
    :param momentum: SGD momentum.
    :param max_grad_norm: per-document clipping of the refinement gradient (``None``: off);
        with SGD it bounds each step at ``step_size * max_grad_norm``, which keeps long
        documents from diverging.
    :param num_samples: samples of ``z`` per document per step.
    :param create_graph: backpropagate through the refinement.
    :param hidden_sizes: widths of the encoder's hidden layers.
    :param encoder: ``input_transform`` and ``dropout`` of the amortized
        encoder, a :class:`~ppl_vae.guides.DiagonalGaussianGuide`.
    """

    name = "semi-amortized"
    fits = ("nvdm",)
    needs_model = True

    def __init__(
        self,
        vocab_size: int,
        latent_dim: int = 50,
        hidden_sizes: tuple[int, ...] | list[int] = (500, 500),
        *,
        model: Callable,
        steps: int = 5,
        step_size: float = 1e-2,
        optimizer: str = "sgd",
        momentum: float = 0.0,
        max_grad_norm: float | None = 5.0,
        num_samples: int = 1,
        create_graph: bool = False,
        **encoder,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.encoder = DiagonalGaussianGuide(vocab_size, latent_dim, hidden_sizes, **encoder)
        self.vocab_size = vocab_size
        self.latent_dim = latent_dim
        object.__setattr__(self, "_model", model)  # deliberately not a submodule
        self.steps = steps
        self.step_size = step_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.max_grad_norm = max_grad_norm
        self.num_samples = num_samples
        self.create_graph = create_graph

    @property
    def model(self) -> Callable:
        """The generative model whose per-document ELBO the refinement climbs."""
        return self._model

    def amortized_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's ``(mu, log sigma)``, before refinement."""
        loc, scale = self.encoder.encode(x)
        return loc, scale.log()

    def refined_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log sigma)`` after the refinement steps."""
        loc, log_scale = self.amortized_params(x)
        return refine_gaussian(
            self._model,
            (x,),
            loc,
            log_scale,
            self.steps,
            self.step_size,
            num_samples=self.num_samples,
            create_graph=self.create_graph,
            optimizer=self.optimizer,
            momentum=self.momentum,
            max_grad_norm=self.max_grad_norm,
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` of ``q(z | x)``: the refined Gaussian (refinement is stochastic)."""
        loc, log_scale = self.refined_params(x)
        return loc, log_scale.exp()

    def forward(self, x: torch.Tensor, annealing_factor: float = 1.0) -> torch.Tensor:
        register(self, "semi_amortized_encoder")
        loc, log_scale = self.refined_params(x)
        with pyro.plate("documents", x.shape[0]):
            with kl_annealing(annealing_factor):
                return pyro.sample("z", dist.Normal(loc, log_scale.exp()).to_event(1))
