"""Device, dtype and attention implementation: decided once, here, and passed down.

Every entry point calls `resolve_device` / `resolve_dtype` / `resolve_attention` with the user's strings and
hands the results to the code below it; no module looks at `torch.cuda.is_available()` on its own.
"""

from __future__ import annotations

import importlib.util
import os

import torch

from cdreasoning.errors import UsageError


class DeviceUnavailable(UsageError, RuntimeError):
    """The requested device does not exist on this machine."""


_DTYPE_NAMES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}

ATTENTION_IMPLEMENTATIONS = ("sdpa", "eager", "flash_attention_2")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """ "auto" → CUDA if available, else MPS, else CPU. Explicit requests that cannot be met raise."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"device {device!r} requested but CUDA is not available on this machine",
            hint="use --device auto (CUDA, then MPS, then CPU: whichever this machine has)",
        )
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailable(
            f"device {device!r} requested but MPS is not available on this machine",
            hint="use --device auto (CUDA, then MPS, then CPU: whichever this machine has)",
        )
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """ "auto" → bf16 on CUDA with bf16 support (else fp16), fp16 on MPS, fp32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if name not in _DTYPE_NAMES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of auto, {', '.join(sorted(_DTYPE_NAMES))}")
    return _DTYPE_NAMES[name]


def flash_attention_available() -> bool:
    """True when the flash-attn package is importable (it only works on CUDA)."""
    if os.environ.get("CDREASONING_DISABLE_FLASH_ATTN"):
        return False
    return importlib.util.find_spec("flash_attn") is not None


def resolve_attention(attention: str | None, device: torch.device) -> str:
    """ "auto" → flash_attention_2 on CUDA when flash-attn is installed, else PyTorch SDPA.

    "eager" computes softmax(QKᵀ)V explicitly (slow; useful to compare against). Asking for flash attention
    where it cannot run raises instead of silently falling back.
    """
    name = (attention or "auto").strip().lower()
    if name == "auto":
        if device.type == "cuda" and flash_attention_available():
            return "flash_attention_2"
        return "sdpa"
    if name not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(
            f"unknown attention {attention!r}; use auto or one of {', '.join(ATTENTION_IMPLEMENTATIONS)}"
        )
    if name == "flash_attention_2":
        if device.type != "cuda":
            raise RuntimeError("flash_attention_2 needs a CUDA device; use attention='sdpa'")
        if not flash_attention_available():
            raise RuntimeError(
                "flash_attention_2 requested but flash-attn is not installed (pip install flash-attn)"
            )
    return name


def offline_hub() -> None:
    """Make transformers/huggingface_hub never reach the network: every path we load is local.

    `import cdreasoning` already does this (see `cdreasoning.offline`); entry points call it again in case the
    variables were removed since.
    """
    from cdreasoning.offline import apply_offline_default

    apply_offline_default()
