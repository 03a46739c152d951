"""CD-Flow: a multi-scale Glow-style normalizing flow whose latent Euclidean distance is a colour difference.

    from cdreasoning.cdflow import CDFlow
    model = CDFlow(scales=6, steps=8, width=512)      # the paper's 60.49 M-parameter flow
    model.data_init(images)                          # once, on a batch of training images (ActNorm init)
    latents = model.encode(x)                        # list of K latents, finest scale first
    x_again = model.decode(latents)
    delta_e = model.distance(x, y)                   # [b]: RMS over all latent dimensions of f(x) − f(y)
    partial = model.partial_distances(x, y)          # [b, K]: column k−1 = ΔE over scales k..K
    log_p = model.log_prob(x)                        # [b]: log-density of x in nats (change of variables)

Shapes (b batch, H×W image, K scales, L steps per scale):
    x: [b, 3, H, W] sRGB in [0, 1], H and W multiples of 2**K.
    scale k = 1..K takes [b, c_k, H_k, W_k] with c_k = 3·2^(k−1), H_k = H/2^(k−1); squeezes 2×2 to
    [b, 4c_k, H_k/2, W_k/2]; runs L steps (ActNorm → invertible 1×1 conv → affine coupling); then, for k < K,
    splits the channels in half: the first half goes on to scale k+1, the second half is the latent z_k
    [b, 2c_k, H_k/2, W_k/2] with a conditional Gaussian prior N(mean, exp(log_sd)²) predicted from the first
    half by a zero-initialised convolution. The last scale keeps all channels, z_K [b, 4c_K, H/2^K, W/2^K],
    under a learned (input-independent) Gaussian prior. Σ_k dim z_k = 3HW: the flow is a bijection.

Distance (the CD-Flow metric): ΔE(x, y) = ‖f(x) − f(y)‖₂ / sqrt(3HW) over all latents; the partial distance
ΔE_k uses only the latents of scales k..K, divided by the square root of their dimension. Because f is
bijective, ΔE is a proper metric (identity, symmetry, triangle inequality). The training loss uses all K of
them (`loss.py`).

Precision: under autocast (mixed precision on GPU) only the coupling networks run in bf16/fp16. Everything
else — ActNorm, the 1×1 convolutions, the priors, the latents and the log-determinants — is float32: a
log-determinant sums 3HW terms (2.4 M at 768 px) that bf16's 8-bit mantissa cannot accumulate, and the latent
differences that make ΔE are ~1 % of the latent values, below bf16's resolution of 0.4 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from cdreasoning.cdflow.actnorm import ActNorm
from cdreasoning.cdflow.config import IN_CHANNELS, CDFlowConfig
from cdreasoning.cdflow.coupling import AffineCoupling, ZeroConv2d
from cdreasoning.cdflow.invconv import InvertibleConv1x1, parameter_key

__all__ = ["CDFlow", "FlowOutput", "count_parameters", "latent_distances"]

_LOG_2PI = math.log(2 * math.pi)


@dataclass
class FlowOutput:
    """latents: K tensors, finest first (z_1 … z_K); log_p, logdet: [b] (nats, float32)."""

    latents: list[torch.Tensor]
    log_p: torch.Tensor
    logdet: torch.Tensor

    @property
    def log_prob(self) -> torch.Tensor:
        """log-density of the input, [b]: log p(z) + log|det ∂z/∂x|."""
        return self.log_p + self.logdet


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last when x is stored so (a --channels-last run), else the default layout."""
    return (
        torch.channels_last
        # A [b, c, 1, 1] tensor is contiguous in both layouts:
        # only one that is channels-last and not plain counts.
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        else torch.contiguous_format
    )


def squeeze2x2(x: torch.Tensor) -> torch.Tensor:
    """[b, c, h, w] → [b, 4c, h/2, w/2]; channel order (c, dy, dx) as in the original code."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2)
    if _memory_format(x.view(b, c, h, w)) == torch.channels_last:
        # a channels-last run stays channels-last: the same values, written in NHWC order in one copy
        x = x.permute(0, 2, 4, 1, 3, 5).reshape(b, h // 2, w // 2, c * 4)
        return x.permute(0, 3, 1, 2)
    # (b, c, h/2, dy, w/2, dx) → (b, c, dy, dx, h/2, w/2): channel c·4 + dy·2 + dx, the original's order.
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)


def unsqueeze2x2(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `squeeze2x2`: [b, 4c, h, w] → [b, c, 2h, 2w]."""
    b, c4, h, w = x.shape
    x = x.view(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c4 // 4, h * 2, w * 2)


def gaussian_log_p(z: torch.Tensor, mean: torch.Tensor, log_sd: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mean, exp(log_sd)²)."""
    # exp(−2·log_sd) = 1/σ², without dividing by a possibly tiny σ².
    return -0.5 * _LOG_2PI - log_sd - 0.5 * (z - mean) ** 2 * torch.exp(-2 * log_sd)


class FlowStep(nn.Module):
    """One step of flow: ActNorm → invertible 1×1 convolution → affine coupling. [b, c, h, w] both ways.

    Without autograd (evaluation) ActNorm and the 1×1 convolution are folded into one convolution with a bias:
    W·(s ⊙ (x + loc)) = (W·diag(s))·x + W·(s ⊙ loc). That saves a full pass over the activation per step; the
    folded weight is cached until a parameter changes. The result equals the unfolded one to float rounding
    (tested to 1e-5 relative); training keeps the separate layers (their gradients are the parameters').
    """

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvertibleConv1x1(channels)
        self.coupling = AffineCoupling(channels, width)
        self.fold_at_inference = True  # a runtime switch (the tests compare both paths)

    def _folded(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weight [c, c, 1, 1], bias [c], per-pixel log|det| of both layers), float32, cached."""
        norm, conv = self.actnorm, self.invconv
        # Both layers' parameters key the cache: any optimizer step or state-dict load invalidates it.
        key = parameter_key(norm.loc, norm.scale, conv.lower, conv.log_s, conv.upper)
        cached = self.__dict__.get("_folded_cache")
        if cached is None or cached[0] != key:
            w = conv.weight()  # [c_out, c_in]
            scale = norm.scale.reshape(-1).to(w.dtype)
            # W·diag(s): column j scaled by ActNorm's scale of input channel j.
            weight = w * scale[None, :]
            bias = w @ (scale * norm.loc.reshape(-1).to(w.dtype))
            # Per pixel: Σ log|s| over channels (ActNorm) plus Σ log|u_ii| (the 1×1 convolution).
            logdet = torch.log(torch.abs(scale)).sum() + conv.log_s.to(w.dtype).sum()
            cached = (key, (weight[:, :, None, None], bias, logdet))
            self.__dict__["_folded_cache"] = cached
        return cached[1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Folding needs fixed parameters (no autograd) and must not skip a pending ActNorm data init.
        if self.fold_at_inference and not torch.is_grad_enabled() and not self.actnorm.init_pending:
            with torch.autocast(device_type=x.device.type, enabled=False):
                weight, bias, logdet_pixel = self._folded()
                x = F.conv2d(x.to(weight.dtype), weight.to(memory_format=_memory_format(x)), bias)
                logdet = x.shape[2] * x.shape[3] * logdet_pixel
        else:
            x, logdet_norm = self.actnorm(x)
            x, logdet_conv = self.invconv(x)
            logdet = logdet_norm + logdet_conv
        x, logdet_coupling = self.coupling(x)
        return x, logdet_coupling + logdet

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        # Inverse order: coupling⁻¹, then the 1×1 convolution's inverse, then ActNorm's.
        return self.actnorm.reverse(self.invconv.reverse(self.coupling.reverse(y)))


class FlowScale(nn.Module):
    """One scale: squeeze, L flow steps, then split off a latent (or, for the last scale, keep everything)."""

    def __init__(self, in_channels: int, steps: int, width: int, split: bool) -> None:
        super().__init__()
        channels = in_channels * 4
        self.split = split
        self.gradient_checkpointing = False  # set through CDFlow.gradient_checkpointing
        self.steps = nn.ModuleList(FlowStep(channels, width) for _ in range(steps))
        # split: N(mean, sd) of z_k from the half that goes on; last scale: a learned prior for all channels.
        self.prior = ZeroConv2d(channels // 2, channels) if split else ZeroConv2d(channels, channels * 2)

    def _prior(self, h: torch.Tensor | None, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(device_type=like.device.type, enabled=False):
            if self.split:
                # The prior runs in float32 (outside autocast): its
                # mean and log_sd feed the float32 log-density.
                params = self.prior(h.to(like.dtype))
            else:
                # The original feeds a ones tensor of z's shape; padded with ones, a constant input gives a
                # spatially constant output, so one 1×1 position computes the same per-channel values.
                params = self.prior(like.new_ones(1, like.shape[1], 1, 1))
            mean, log_sd = params.to(like.dtype).chunk(2, dim=1)
        return mean, log_sd

    def forward(self, x: torch.Tensor):
        """x [b, c, h, w] → (h_next [b, 2c, h/2, w/2] or None, z, log_p [b], logdet [b])."""
        out = squeeze2x2(x)
        logdet = out.new_zeros(out.shape[0])
        for step in self.steps:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                # Recompute the step's activations in backward instead of storing them (no randomness inside).
                out, step_logdet = torch.utils.checkpoint.checkpoint(step, out, use_reentrant=False)
            else:
                out, step_logdet = step(out)
            logdet = logdet + step_logdet
        if self.split:
            # The half that goes on also conditions z's prior (Glow's split prior).
            h_next, z = out.chunk(2, dim=1)
        else:
            h_next, z = None, out
        mean, log_sd = self._prior(h_next, z)
        # Summed over all of z's entries: one log-density per image.
        log_p = gaussian_log_p(z, mean, log_sd).flatten(1).sum(dim=1)
        return h_next, z, log_p, logdet

    def reverse(self, h_next: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        # forward undone: rejoin the halves, undo the steps last-first, then unsqueeze.
        out = torch.cat([h_next, z], dim=1) if self.split else z
        for step in reversed(self.steps):
            out = step.reverse(out)
        return unsqueeze2x2(out)


def latent_distances(
    latents_x: list[torch.Tensor], latents_y: list[torch.Tensor], eps: float = 0.0
) -> torch.Tensor:
    """[b, K]: column k−1 = sqrt(eps + Σ_{j≥k} ‖z_j(x) − z_j(y)‖² / Σ_{j≥k} dim z_j) (float32 or better).

    Column 0 is the full distance ΔE. eps > 0 keeps the gradient finite for identical images (training uses
    1e-8, as the original); the metric itself uses eps = 0 so that d(x, x) = 0 exactly.
    """
    if len(latents_x) != len(latents_y):
        raise ValueError(f"latent lists differ in length: {len(latents_x)} vs {len(latents_y)}")
    squared, dims = [], []
    for zx, zy in zip(latents_x, latents_y):
        if zx.shape != zy.shape:
            raise ValueError(f"latent shapes differ: {tuple(zx.shape)} vs {tuple(zy.shape)}")
        diff = (zx - zy).flatten(1)
        squared.append((diff * diff).sum(dim=1))
        dims.append(diff.shape[1])
    squared_t = torch.stack(squared, dim=1)  # [b, K]
    # Suffix sums over scales k..K (coarse-to-fine, as the original concatenates them).
    suffix = squared_t.flip(1).cumsum(1).flip(1)
    suffix_dims = torch.tensor(dims, dtype=suffix.dtype, device=suffix.device).flip(0).cumsum(0).flip(0)
    # RMS per dimension, so ΔE does not grow with the image size.
    return torch.sqrt(eps + suffix / suffix_dims)


class CDFlow(nn.Module):
    """The CD-Flow network (see the module docstring). Build with sizes or `CDFlow.from_config(config)`."""

    def __init__(self, scales: int = 6, steps: int = 8, width: int = 512) -> None:
        super().__init__()
        self.config = CDFlowConfig(scales=scales, steps=steps, width=width)
        self.scales = nn.ModuleList()
        channels = IN_CHANNELS
        for k in range(scales):
            self.scales.append(FlowScale(channels, steps, width, split=k < scales - 1))
            # Each split keeps half of the 4c channels after the squeeze: the next scale gets 2c.
            channels *= 2
        # Saved with the weights; a checkpoint carries its ActNorm initialisation with it.
        self.register_buffer("actnorm_initialized", torch.tensor(False))
        self._initialized = False  # Python mirror of the buffer: no device sync per forward
        self.register_load_state_dict_post_hook(CDFlow._sync_initialized)

    @classmethod
    def from_config(cls, config: CDFlowConfig) -> CDFlow:
        return cls(scales=config.scales, steps=config.steps, width=config.width)

    @staticmethod
    def _sync_initialized(module: CDFlow, incompatible_keys) -> None:
        # After load_state_dict the buffer holds the checkpoint's flag: refresh the Python mirror from it.
        module._initialized = bool(module.actnorm_initialized)

    # --- inputs -------------------------------------------------------------------------------------------

    def check_input(self, x: torch.Tensor, name: str = "x", check_range: bool = True) -> None:
        """Raise ValueError unless x is a float tensor [b, 3, H, W] with H, W multiples of 2**scales
        (and, with check_range, values in [0, 1])."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor [b, 3, H, W], got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != IN_CHANNELS:
            raise ValueError(f"{name} must have shape [b, 3, H, W] (sRGB), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor in [0, 1], got dtype {x.dtype}")
        multiple = self.config.multiple
        height, width = x.shape[2], x.shape[3]
        if height % multiple or width % multiple or height == 0 or width == 0:
            raise ValueError(
                f"{name} is {height}×{width} px; with scales={self.config.scales} the height and width must be "
                f"positive multiples of 2**{self.config.scales} = {multiple} (e.g. "
                f"{max(multiple, height // multiple * multiple)}×{max(multiple, width // multiple * multiple)})"
            )
        if check_range and x.numel():
            # One aminmax pass and one device sync for both bounds.
            low, high = torch.aminmax(x.detach())
            low, high = float(low), float(high)
            if not (math.isfinite(low) and math.isfinite(high)) or low < 0.0 or high > 1.0:
                raise ValueError(
                    f"{name} must hold sRGB values in [0, 1]; got values in [{low:.4g}, {high:.4g}]"
                )

    @property
    def is_initialized(self) -> bool:
        return self._initialized

    @property
    def gradient_checkpointing(self) -> bool:
        """Recompute each flow step's activations in the backward pass: memory ~1/L of the activations for
        ~25 % more compute per step (measured on CPU). Not part of the config: a runtime choice."""
        return all(scale.gradient_checkpointing for scale in self.scales)

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, enabled: bool) -> None:
        for scale in self.scales:
            scale.gradient_checkpointing = bool(enabled)

    def compile_couplings(self) -> None:
        """torch.compile every coupling network in place (the state-dict keys do not change).

        The couplings hold almost all the FLOPs; compiling fuses their convolutions' epilogues (bias, ReLU)
        and the sigmoid arithmetic. The first steps are slow (compilation), later ones faster on GPUs; on a
        CPU it needs a C++ compiler. Optional (`cdflow train --compile`): eager mode is the default.
        """
        import shutil

        device = next(self.parameters()).device
        if device.type == "cpu" and not any(shutil.which(cc) for cc in ("c++", "g++", "clang++")):
            raise ValueError("--compile on the CPU needs a C++ compiler (g++ or clang++) on PATH")
        for scale in self.scales:
            for step in scale.steps:
                # dynamic=False: kernels specialised for the shapes seen (a run trains on one crop size).
                step.coupling.net.compile(dynamic=False)

    # --- the flow -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> None:
        """Data-dependent ActNorm initialisation from a batch of images x [b, 3, H, W] (re-initialises)."""
        self.check_input(x)
        for module in self.modules():
            if isinstance(module, ActNorm):
                # The next forward of each ActNorm takes its statistics from its own input, layer after layer.
                module.init_pending = True
        try:
            self._flow(x)
        # finally: a failed init (e.g. out of memory) must not leave layers waiting to re-initialise later.
        finally:
            for module in self.modules():
                if isinstance(module, ActNorm):
                    module.init_pending = False
        self.actnorm_initialized.fill_(True)
        self._initialized = True

    def _flow(self, x: torch.Tensor) -> FlowOutput:
        latents = []
        # float32 accumulators (float64 kept for the log-det tests): 3HW log terms do not fit bf16's mantissa.
        log_p = x.new_zeros(x.shape[0], dtype=torch.float32 if x.dtype != torch.float64 else x.dtype)
        logdet = torch.zeros_like(log_p)
        # The flow path itself runs in float32 too; autocast lowers only the coupling networks.
        h = x.to(log_p.dtype)
        for scale in self.scales:
            h, z, scale_log_p, scale_logdet = scale(h)
            latents.append(z)
            log_p = log_p + scale_log_p
            logdet = logdet + scale_logdet
        return FlowOutput(latents, log_p, logdet)

    def forward(self, x: torch.Tensor) -> FlowOutput:
        """x [b, 3, H, W] → FlowOutput (latents finest first, log_p [b], logdet [b]). Checks the shape only;
        the public helpers below also check the value range."""
        self.check_input(x, check_range=False)
        # An uninitialised ActNorm (loc 0, scale 1) would run without error on wrong statistics: refuse.
        if not self._initialized:
            raise RuntimeError(
                "CDFlow's ActNorm layers are not initialised: call model.data_init(batch) with a batch of "
                "training images first (or load a trained checkpoint)"
            )
        return self._flow(x)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The K latents of x, finest first: z_k [b, 6·2^(k−1), H/2^k, W/2^k] for k < K, z_K [b, 3·2^(K+1), H/2^K, W/2^K]."""
        self.check_input(x)
        return self(x).latents

    def decode(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """The image whose latents these are: the exact inverse of `encode`, [b, 3, H, W]."""
        if len(latents) != len(self.scales):
            raise ValueError(f"expected {len(self.scales)} latents (one per scale), got {len(latents)}")
        h = None
        for scale, z in zip(reversed(self.scales), reversed(latents)):
            h = scale.reverse(h, z)
        return h

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log-density of each image in nats, [b] (continuous density on [0, 1]^(3HW))."""
        self.check_input(x)
        return self(x).log_prob

    def partial_distances(self, x: torch.Tensor, y: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        """[b, K]: column k−1 = ΔE over the latents of scales k..K; column 0 is the full ΔE."""
        self.check_input(x, "x")
        self.check_input(y, "y")
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        # One forward for x and y together: twice the batch, half the launches.
        latents = self(torch.cat([x, y], dim=0)).latents
        b = x.shape[0]
        # The first b rows are x's latents, the last b rows y's.
        return latent_distances([z[:b] for z in latents], [z[b:] for z in latents], eps=eps)

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """ΔE per pair, [b]: RMS over all 3HW latent dimensions of f(x) − f(y)."""
        return self.partial_distances(x, y)[:, 0]


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
