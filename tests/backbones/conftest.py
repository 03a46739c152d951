"""Tiny random checkpoints of every supported HF family, written by the real `init-model` code path."""

import numpy as np
import pytest
from PIL import Image

HF_FAMILIES = ("tiny-qwen2_5_vl", "tiny-qwen3_vl", "tiny-idefics3")


@pytest.fixture(scope="session")
def hf_checkpoints(tmp_path_factory):
    from cdreasoning.backbones.tiny_presets import write_hf_preset

    root = tmp_path_factory.mktemp("hf-presets")
    return {name: write_hf_preset(name, root / name, seed=0) for name in HF_FAMILIES}


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """Eight small images of different sizes (so the Qwen families get different image-token counts)."""
    folder = tmp_path_factory.mktemp("bb-images")
    rng = np.random.default_rng(0)
    for i in range(8):
        h, w = 40 + 8 * i, 64 - 4 * i
        base = rng.integers(0, 256, 3)
        image = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """A small synthetic SPCD-like set made by the real generator (5 scenes, 64 px)."""
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("bb-synth") / "set"
    synthesize(out, scenes=5, seed=0, size=64, pairs_per_scene=6)
    return out
