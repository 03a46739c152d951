"""Keep glibc malloc from mapping and unmapping CD-Flow's large CPU activations on every step.

    from cdreasoning.cdflow.allocator import tune_allocator
    tune_allocator()          # once, at the start of a command of ours (cdflow train/test, the benchmarks)

Why: torch's CPU tensors come from malloc. glibc serves every request above its mmap threshold (at most
32 MiB) with a fresh mmap and returns it with munmap on free, so an activation of 33–36 MB — what the paper's
flow makes at 128–256 px when x and y run as one batch — is mapped, page-faulted in (4 KiB at a time) and
unmapped again on every forward and backward. Measured on 2 CPU cores, paper model, 128 px, batch 2: about
1.0 M page faults and 2.5 s of kernel time per step, against 0.14 M and 0.4 s once malloc keeps the memory.

What: `mallopt(M_MMAP_MAX, 0)` (no mmap-served allocations: large blocks come from the heap and are reused)
and `mallopt(M_TRIM_THRESHOLD, 1 GiB)` (freed memory at the top of the heap stays for the next step instead of
going back to the kernel). The same effect as `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824` in the
environment, without asking the user for it. Only the allocator's bookkeeping changes: every tensor holds the
same values, so results stay bit-for-bit identical (tested). The process keeps its peak heap instead of
shrinking between steps, which is what a training loop wants anyway.

Applied only on Linux with glibc, only in our own entry points (never at import: a library must not change
its host's allocator), and not when `CDREASONING_MALLOC=default` is set.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["ALLOCATOR_ENV", "tune_allocator"]

ALLOCATOR_ENV = "CDREASONING_MALLOC"  # "default": leave malloc as it is
M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30

_state: dict[str, bool] = {}


def tune_allocator() -> bool:
    """Apply the malloc settings above once per process; True when they are in effect."""
    # Once per process: mallopt settings are global, and later calls would only repeat the answer.
    if "applied" in _state:
        return _state["applied"]
    applied = False
    if os.environ.get(ALLOCATOR_ENV, "").strip().lower() != "default" and _is_glibc():
        try:
            # CDLL(None): the symbols already loaded into this process, i.e. the running libc itself.
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
            # Declared so ctypes passes C ints (the parameter numbers are negative).
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            # mallopt returns 1 on success, 0 on error
            applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
        except (OSError, AttributeError):  # no libc symbol table (static builds, unusual loaders)
            applied = False
    _state["applied"] = applied
    return applied


def _is_glibc() -> bool:
    if platform.system() != "Linux":
        return False
    try:
        # musl and other libcs need not have these mallopt parameters under these numbers.
        return platform.libc_ver()[0] == "glibc"
    except OSError:
        return False
