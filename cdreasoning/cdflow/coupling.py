"""Affine coupling with CD-Flow's sigmoid scale, and the zero-initialised convolution it (and the prior) ends in.

    coupling = AffineCoupling(channels=12, width=512)
    y, logdet = coupling(x)      # x, y [b, 12, h, w]; logdet [b]
    x_again = coupling.reverse(y)

Coupling (RealNVP / Glow, with the scale of the CD-Flow code): split x into halves (x_a, x_b) along channels;
net(x_a) → (log s, t); s = sigmoid(log s + 2); y = (x_a, (x_b + t) · s); log|det| = Σ log s.
net = conv3×3(c/2 → width) → ReLU → conv1×1(width → width) → ReLU → ZeroConv2d(width → c). The first two
convolutions start from N(0, 0.05²) weights, the last from zero, so every coupling starts as y_b = x_b·σ(2).

The network is the only part of the flow that runs in reduced precision under autocast (it holds almost all
the FLOPs); its output is cast back to float32 before the sigmoid, the affine map and the log-determinant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AffineCoupling", "ZeroConv2d"]


class ZeroConv2d(nn.Module):
    """3×3 convolution padded with ones, zero-initialised, output scaled by exp(3·scale) (a learned gain).

    [b, c_in, h, w] → [b, c_out, h, w]. At initialisation it outputs zeros, so couplings start as a fixed
    scaling and the priors as N(0, 1).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # padding=0: forward pads explicitly, with ones, as
        # rosinality's glow-pytorch that the original follows.
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=0)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(F.pad(x, [1, 1, 1, 1], value=1.0))
        # exp(3·scale): a learned per-channel gain, 1 at initialisation; Glow's logscale_factor of 3.
        return out * torch.exp(self.scale * 3)


class AffineCoupling(nn.Module):
    """Affine coupling layer; `channels` must be even."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"affine coupling needs an even number of channels, got {channels}")
        self.net = nn.Sequential(
            nn.Conv2d(channels // 2, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 1),
            nn.ReLU(inplace=True),
            # Zero-initialised last layer: log s = 0 and t = 0 at
            # start, so each coupling begins as y_b = x_b·σ(2).
            ZeroConv2d(width, channels),
        )
        for conv in (self.net[0], self.net[2]):
            nn.init.normal_(conv.weight, 0.0, 0.05)
            nn.init.zeros_(conv.bias)

    def _scale_shift(self, x_a: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        # The net may run in bf16 under autocast; its output is cast back before the scale and the log-det.
        log_s, shift = self.net(x_a).to(dtype).chunk(2, dim=1)
        # + 2, as Glow: the scale starts at σ(2) ≈ 0.88, near the identity, and σ keeps it in (0, 1).
        return log_s + 2.0, shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_a, x_b = x.chunk(2, dim=1)
        pre, shift = self._scale_shift(x_a, x.dtype)
        y_b = (x_b + shift) * torch.sigmoid(pre)
        # log|det| = Σ log s over x_b's entries; logsigmoid is the stable form of log(sigmoid(·)).
        logdet = F.logsigmoid(pre).flatten(1).sum(dim=1)
        return torch.cat([x_a, y_b], dim=1), logdet

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        y_a, y_b = y.chunk(2, dim=1)
        pre, shift = self._scale_shift(y_a, y.dtype)
        # y_a = x_a, so net(y_a) gives the same s and t: the inverse needs no solve.
        return torch.cat([y_a, y_b / torch.sigmoid(pre) - shift], dim=1)
