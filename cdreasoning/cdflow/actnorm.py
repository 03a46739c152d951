"""ActNorm: a per-channel affine map y = scale · (x + loc), initialised from data (Glow, Kingma & Dhariwal 2018).

    norm = ActNorm(12)
    norm.data_init(x)          # loc = −mean, scale = 1/(std + 1e-6) per channel of the batch x [b, c, h, w]
    y, logdet = norm(x)        # logdet: a scalar, h·w·Σ log|scale| (the same for every sample)
    x_again = norm.reverse(y)

The data-dependent initialisation is explicit: `CDFlow.data_init(batch)` calls it on every ActNorm through one
forward pass. The original initialised lazily on the first forward call, which silently re-initialised a model
whose `initialized` flag had not been restored and let the EMA copy be taken before the initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ActNorm"]


class ActNorm(nn.Module):
    """Per-channel affine normalisation; inputs and outputs [b, c, h, w]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.init_pending = False  # set by CDFlow.data_init: the next forward initialises from its input

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> None:
        """Zero mean and unit variance per channel on the batch x (unbiased std, as the original)."""
        # Statistics in at least float32 (a bf16 batch would
        # give a coarse mean / std); [c, b·h·w] per channel.
        flat = (
            x.detach().to(torch.promote_types(x.dtype, torch.float32)).transpose(0, 1).reshape(x.shape[1], -1)
        )
        self.loc.copy_(-flat.mean(dim=1).view(1, -1, 1, 1))
        # + 1e-6: a constant channel (a flat image region) would otherwise get an infinite scale.
        self.scale.copy_(1.0 / (flat.std(dim=1).view(1, -1, 1, 1) + 1e-6))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.init_pending:
            self.data_init(x)
            self.init_pending = False
        # One scale per channel at every pixel: a diagonal
        # Jacobian holding h·w copies of each channel's scale.
        logdet = x.shape[2] * x.shape[3] * torch.log(torch.abs(self.scale)).sum()
        return self.scale * (x + self.loc), logdet

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        return y / self.scale - self.loc
