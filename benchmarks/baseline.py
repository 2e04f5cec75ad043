"""The hand-written PyTorch side of the speed benchmarks: the Gaussian VAE's loss and step."""

from __future__ import annotations

import torch


def gaussian_vae_step(
    loc: torch.Tensor, scale: torch.Tensor, rec: torch.Tensor, optimizer: torch.optim.Optimizer
) -> float:
    """One step on ``-(rec - KL(N(loc, scale^2) || N(0, I)))``, summed over the batch."""
    kl = 0.5 * (loc.pow(2) + scale.pow(2) - 1 - 2 * scale.log()).sum()
    loss = kl - rec
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
