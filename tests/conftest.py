"""Shared test helpers.

Tests never touch the network: HF offline mode is forced here. Tests that read the reference material in
../shared (real SPCD / M-SPCD annotation files, the original-implementation fixture) skip with a reason when it
is absent; point CDREASONING_SHARED elsewhere to use another copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CDREASONING_SHARED", REPO_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path inside ../shared, or skip the calling test when it is not there."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not available: {path} (../shared is absent)")
    return path


def pytest_collection_modifyitems(config, items):
    """GPU tests are opt-in: they run only on a machine with CUDA."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A `tiny` preset checkpoint folder written by the real `init-model` code path (shared, read-only)."""
    from cdreasoning.model.presets import write_checkpoint

    return write_checkpoint("tiny", tmp_path_factory.mktemp("tiny") / "ckpt", seed=0)


@pytest.fixture(scope="session")
def pair_folder(tmp_path_factory):
    """Eight small images of different sizes and colours, img0.png … img7.png (different sizes, so the Qwen
    families get different image-token counts per image)."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for i in range(8):
        h, w = 40 + 8 * i, 64 - 4 * i
        base = rng.integers(0, 256, 3)
        image = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
    return folder
