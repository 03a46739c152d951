"""The malloc tuning of `cdflow.allocator`: large CPU tensors stop being mapped fresh on every allocation, and
the maths does not change by a bit. Each check runs in a subprocess (mallopt is process-wide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from cdreasoning.cdflow.allocator import _is_glibc

pytestmark = pytest.mark.skipif(not _is_glibc(), reason="glibc malloc only")


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


FAULTS = """
    import resource, sys, torch
    from cdreasoning.cdflow.allocator import tune_allocator
    if {tuned}:
        assert tune_allocator()
    torch.set_num_threads(1)
    x = torch.ones(9_000_000)               # 36 MB: above glibc's largest mmap threshold (32 MiB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range({iterations}):
        y = x * 2.0                         # a fresh 36 MB result each time, freed at the next iteration
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(tuned: bool, iterations: int) -> int:
    return int(_run(FAULTS.format(tuned=tuned, iterations=iterations)))


def test_large_tensors_are_reused_instead_of_mapped_fresh():
    """Hand count: 36 MB / 4 KiB pages ≈ 8.8 k page faults per fresh mapping, so 60 iterations ≈ 527 k when
    every result is mapped fresh. With malloc keeping the memory only the first buffers' pages fault in (measured
    alone: 6 to 9 buffers, 52.8 k to 79.1 k, varying from run to run with where the heap can grow): bounded by a
    few buffers, not growing with the iterations."""
    default = _faults(False, 60)
    assert default > 6 * 75_000, default  # every iteration a fresh mapping
    tuned = _faults(True, 60)
    assert tuned < 12 * 8_800, tuned  # a dozen buffers at most, whatever the iteration count
    assert tuned < default / 4, (tuned, default)


STEP = """
    import torch
    from cdreasoning.cdflow.allocator import tune_allocator
    from cdreasoning.cdflow import CDFlow, cdflow_loss
    if {tuned}:
        assert tune_allocator()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CDFlow(scales=2, steps=2, width=16)
    x = torch.rand(4, 3, 96, 96)
    model.data_init(x)
    terms = cdflow_loss(model(x), torch.tensor([1.0, 2.0]))
    terms.total.backward()
    torch.save([terms.total.detach()] + [p.grad for p in model.parameters()], {path!r})
"""


def test_a_training_step_is_bitwise_unchanged(tmp_path):
    paths = [tmp_path / "default.pt", tmp_path / "tuned.pt"]
    for tuned, path in zip((False, True), paths):
        _run(STEP.format(tuned=tuned, path=str(path)))
    a, b = (torch.load(p) for p in paths)
    assert len(a) == len(b) > 10
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_default_leaves_malloc_alone(monkeypatch):
    out = _run(
        """
        import os
        os.environ["CDREASONING_MALLOC"] = "default"
        from cdreasoning.cdflow.allocator import tune_allocator
        print(tune_allocator())
        """
    )
    assert out == "False"
