"""Shared fixtures of the CD-Flow tests: one thread per test, a small synthetic SPCD-like set.

Torch runs these tiny models on one thread. On this 2-core machine a training step of the `small` preset
(16 images of 64 px) took 0.15 s on one thread and 0.10 s on two when idle, but 0.22 s vs 8.6 s while
another process was computing (oversubscribed intra-op threads spin): one thread keeps the suite's time
predictable on a shared CI runner.
"""

from __future__ import annotations

import os

import pytest
import torch

from cdreasoning.data import synthesize
from cdreasoning.runtime import THREADS_ENV

SYNTH_SCENES, SYNTH_SEED, SYNTH_SIZE = 10, 0, 64


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Module-scoped so that it is in place before the module-scoped training fixtures run. The commands
    choose their own thread count (`runtime.choose_threads`); $CDREASONING_THREADS pins it for them."""
    previous, previous_env = torch.get_num_threads(), os.environ.get(THREADS_ENV)
    torch.set_num_threads(1)
    os.environ[THREADS_ENV] = "1"
    yield
    torch.set_num_threads(previous)
    if previous_env is None:
        os.environ.pop(THREADS_ENV, None)
    else:
        os.environ[THREADS_ENV] = previous_env


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """10 scenes at 64 px: 210 train / 30 val / 60 test pairs (40 aligned, 20 not aligned)."""
    out = tmp_path_factory.mktemp("cdflow_synth")
    synthesize(out, scenes=SYNTH_SCENES, seed=SYNTH_SEED, size=SYNTH_SIZE, pairs_per_scene=30)
    return out
