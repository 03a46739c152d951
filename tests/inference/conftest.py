import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def pair_folder(tmp_path_factory):
    """Eight small images of different sizes and colours: img0.png … img7.png."""
    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for i in range(8):
        h, w = 40 + 8 * i, 64 - 4 * i
        base = rng.integers(0, 256, 3)
        image = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="session")
def scorer(tiny_checkpoint):
    from cdreasoning import CDScorer

    return CDScorer.from_pretrained(tiny_checkpoint, device="cpu", dtype="float32")
