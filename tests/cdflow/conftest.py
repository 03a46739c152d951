"""Shared fixtures of the CD-Flow tests: one thread per test, a small synthetic SPCD-like set.

Torch runs these tiny models on one thread. On this 2-core machine a training step of the `small` preset
(16 images of 64 px) took 0.15 s on one thread and 0.10 s on two when idle, but 0.22 s vs 8.6 s while
another process was computing (oversubscribed intra-op threads spin): one thread keeps the suite's time
predictable on a shared CI runner.
"""

from __future__ import annotations

import pytest
import torch

from cdreasoning.data import synthesize

SYNTH_SCENES, SYNTH_SEED, SYNTH_SIZE = 10, 0, 64


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Module-scoped so that it is in place before the module-scoped training fixtures run."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """10 scenes at 64 px: 210 train / 30 val / 60 test pairs (40 aligned, 20 not aligned)."""
    out = tmp_path_factory.mktemp("cdflow_synth")
    synthesize(out, scenes=SYNTH_SCENES, seed=SYNTH_SEED, size=SYNTH_SIZE, pairs_per_scene=30)
    return out
