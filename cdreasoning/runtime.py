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
        # getattr: torch builds without MPS support may lack torch.backends.mps.
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
            # bf16 keeps fp32's exponent range (no overflow in long
            # sums); fp16 only on GPUs without bf16 (pre-Ampere).
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        # CPU: float32, since bf16 is slow on CPUs without AMX / AVX-512 BF16 (see cpu_has_fast_bf16).
        return torch.float32
    if name not in _DTYPE_NAMES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of auto, {', '.join(sorted(_DTYPE_NAMES))}")
    return _DTYPE_NAMES[name]


def flash_attention_available() -> bool:
    """True when the flash-attn package is importable (it only works on CUDA)."""
    # A test / debugging switch: the SDPA path even where flash-attn is installed.
    if os.environ.get("CDREASONING_DISABLE_FLASH_ATTN"):
        return False
    # find_spec, not import: importing flash-attn loads its CUDA extension, too heavy for a yes/no answer.
    return importlib.util.find_spec("flash_attn") is not None


def resolve_attention(attention: str | None, device: torch.device) -> str:
    """ "auto" → flash_attention_2 on CUDA when flash-attn is installed, else PyTorch SDPA.

    "eager" computes softmax(QKᵀ)V explicitly (slow; useful to compare against). Asking for flash attention
    where it cannot run raises instead of silently falling back.
    """
    name = (attention or "auto").strip().lower()
    if name == "auto":
        # flash-attn also skips padding entirely (varlen), which batched prompts profit from most.
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


# --- CPU threads ------------------------------------------------------------------------------------------

THREADS_ENV = (
    "CDREASONING_THREADS"  # overrides the automatic choice (tests, CI runners) unless --threads is given
)
_warned_busy = False


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else os.cpu_count())."""
    try:
        # Affinity, not cpu_count: a container or taskset may allow fewer cores than the machine has.
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return None


def choose_threads(
    requested: int | None = None, *, cores: int | None = None, load: float | None = None
) -> int:
    """torch's intra-op CPU threads, chosen deliberately: `requested` (--threads) when given, else
    $CDREASONING_THREADS, else one per core that other processes leave free (at least one).

    Why: torch's default of one thread per core assumes the cores are idle. When other processes compute,
    its threads spin-wait on each other and a run gets many times slower (measured on 2 cores with one other
    busy process: a CD-Flow step 0.22 s with 1 thread, 8.6 s with 2). The 1-minute load average counts the
    busy processes; `cores`/`load` are parameters for the tests.
    """
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be ≥ 1, got {requested}")
        return requested
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"${THREADS_ENV} must be a positive integer, got {env!r}")
        return int(env)
    cores = available_cores() if cores is None else cores
    load = _load_average() if load is None else load
    # The 1-minute load rounded to whole busy processes; this run always keeps at least one core.
    busy = 0 if load is None else min(cores - 1, max(0, int(load + 0.5)))
    return max(1, cores - busy)


def warn_if_busy(prog: str, threads: int, *, cores: int | None = None, load: float | None = None) -> bool:
    """Print one line (once per process) when the load average exceeds the cores left free for this run."""
    global _warned_busy
    cores = available_cores() if cores is None else cores
    load = _load_average() if load is None else load
    # Half a process of slack, as choose_threads rounds: a load just above the free cores is noise.
    if _warned_busy or load is None or load <= max(0, cores - threads) + 0.5:
        return False
    _warned_busy = True
    import sys

    print(
        f"{prog}: the machine is busy (load average {load:.1f} on {cores} cores); running on {threads} "
        f"thread(s), expect slower steps (--threads N to choose)",
        file=sys.stderr,
    )
    return True


def apply_threads(requested: int | None = None, prog: str = "cdreasoning") -> int:
    """torch.set_num_threads(choose_threads(requested)); warns once on a busy machine. Returns the count."""
    threads = choose_threads(requested)
    # Intra-op threads: the ones that split a single matmul or convolution.
    torch.set_num_threads(threads)
    warn_if_busy(prog, threads)
    return threads


def cpu_has_fast_bf16() -> bool:
    """True when this CPU computes bf16 matrix products in hardware (AMX or AVX-512 BF16; Linux only), i.e.
    where bf16 autocast makes CPU convolutions and matmuls much faster instead of slower."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"amx_bf16", "avx512_bf16"})
    except OSError:
        pass
    return False
