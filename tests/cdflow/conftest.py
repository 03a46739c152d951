"""Shared fixtures of the CD-Flow tests: one thread per test, a small synthetic SPCD-like set.

Torch runs these tiny models on one thread: on a 2-core machine shared with other work, two intra-op threads
were measured 7× slower per step than one (oversubscription), and one thread is as fast when idle.
"""

from __future__ import annotations

import pytest
import torch

from cdreasoning.data import synthesize

SYNTH_SCENES, SYNTH_SEED, SYNTH_SIZE = 10, 0, 64


@pytest.fixture(autouse=True)
def _one_thread():
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
