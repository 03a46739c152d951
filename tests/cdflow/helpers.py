"""Small builders for the CD-Flow tests."""

from __future__ import annotations

import torch

from cdreasoning.cdflow import CDFlow


def perturbed_flow(scales: int, steps: int, width: int, x: torch.Tensor, seed: int = 0, scale: float = 0.05):
    """A flow initialised on x, then with every parameter (zero-initialised convolutions included) moved by
    N(0, scale²): at initialisation the couplings are a fixed scaling and the priors N(0, 1), which would make
    invertibility and log-determinant checks trivially true."""
    torch.manual_seed(seed)
    model = CDFlow(scales=scales, steps=steps, width=width).to(x.dtype)
    model.data_init(x)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model
