"""Invertible 1×1 convolution with an LU-parametrised weight (Glow §3.2): W = P · (L + I) · (U + diag(sign·eˢ)).

    conv = InvertibleConv1x1(12)
    y, logdet = conv(x)         # x, y [b, 12, h, w]; logdet: a scalar, h·w·Σ s
    x_again = conv.reverse(y)

P (a permutation), the signs of the diagonal and the masks are fixed buffers; L (strictly lower part used),
s = log|diag(U)| and U (strictly upper part used) are trained. L and U are stored as full c×c matrices, as in
the original code, so the parameter count (60,488,496 for the paper's flow) and the checkpoint layout match;
the masked-out entries get zero gradient and never change.

The weight, the convolution and the log-determinant are computed in float32 even under autocast: the weight is
a product of three matrices and its inverse is needed for `reverse`, both of which lose the invertibility in
bf16/fp16 (see `flow.py` for why the latents and log-determinants stay in float32).

Without autograd (evaluation, validation, `reverse`) the composed weight is cached and recomputed only when
L, s or U change (their version counters move on every optimizer step, `copy_` or `load_state_dict`): the
three-matrix product then runs once per weight update instead of once per call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["InvertibleConv1x1", "parameter_key"]


def parameter_key(*tensors: torch.Tensor) -> tuple:
    """Identifies the current values of tensors: storage, version counter (bumped by every in-place change),
    dtype and device. Equal keys mean unchanged values."""
    # An in-place update keeps the storage but bumps _version; a replaced tensor has another data_ptr.
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)


class InvertibleConv1x1(nn.Module):
    """Channel mixing by an invertible c×c matrix, initialised to a random rotation."""

    def __init__(self, channels: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        # A random orthogonal matrix (|det| = 1): the flow starts volume-preserving, with log-det 0.
        rotation, _ = torch.linalg.qr(
            torch.randn(channels, channels, generator=generator, dtype=torch.float64)
        )
        # rotation = P·L·U with unit-diagonal L, so log|det W| = Σ log|diag(U)| = Σ s.
        perm, lower, upper = torch.linalg.lu(rotation)
        diag = torch.diagonal(upper)
        self.register_buffer("perm", perm.float())
        # The diagonal's signs are fixed buffers; training moves only the magnitudes, s = log|u_ii|.
        self.register_buffer("sign", torch.sign(diag).float())
        # Only the strict triangles of L and U are used; the
        # masks keep the stored matrices' other entries out.
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("upper_mask", torch.triu(torch.ones(channels, channels), 1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower.float())
        self.log_s = nn.Parameter(torch.log(torch.abs(diag)).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())

    def _dtype(self) -> torch.dtype:
        """float32, or float64 when the module was converted with .double() (the log-det tests)."""
        return torch.promote_types(self.log_s.dtype, torch.float32)

    def weight(self) -> torch.Tensor:
        """The c×c matrix W (float32 or float64); cached while autograd is off (see the module docstring)."""
        # With autograd on (training) the weight is rebuilt on every call, so gradients reach L, s and U.
        if torch.is_grad_enabled():
            return self._compose()
        key = parameter_key(self.lower, self.log_s, self.upper)
        # __dict__ directly: nn.Module.__getattr__ would raise for a missing attribute instead of giving None.
        cached = self.__dict__.get("_weight_cache")
        if cached is None or cached[0] != key:
            cached = (key, self._compose())
            self.__dict__["_weight_cache"] = cached  # a plain attribute: not a buffer, not in the state dict
        return cached[1]

    def _compose(self) -> torch.Tensor:
        dtype = self._dtype()
        # L + I: the unit lower-triangular factor (its diagonal is implicit, as in Glow).
        lower = self.lower.to(dtype) * self.lower_mask.to(dtype) + self.eye.to(dtype)
        # sign · exp(s) on the diagonal: never zero, so W is invertible for any s.
        diag = torch.diag(self.sign.to(dtype) * torch.exp(self.log_s.to(dtype)))
        upper = self.upper.to(dtype) * self.upper_mask.to(dtype) + diag
        return self.perm.to(dtype) @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # float32 even under autocast: the three-matrix product
        # and its inverse lose invertibility in bf16 / fp16.
        with torch.autocast(device_type=x.device.type, enabled=False):
            w = self.weight()
            y = F.conv2d(x.to(w.dtype), w[:, :, None, None])
            # A 1×1 convolution applies W at each of the h·w pixels: log|det| = h·w·log|det W| = h·w·Σ s.
            logdet = x.shape[2] * x.shape[3] * self.log_s.to(w.dtype).sum()
        return y, logdet

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=y.device.type, enabled=False):
            dtype = self._dtype()
            # Inverted in float64: keeps reverse(forward(x)) within ~1e-6 of x even for 384×384 weights.
            weight = self.weight()
            if weight.device.type == "mps":  # MPS has no float64: invert on the CPU
                w_inv = torch.linalg.inv(weight.cpu().double()).to(device=weight.device, dtype=dtype)
            else:
                w_inv = torch.linalg.inv(weight.double()).to(dtype)
            return F.conv2d(y.to(dtype), w_inv[:, :, None, None])
