"""Image preprocessing: modes are converted, padding uses the mean colour, bad files fail naming the file."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cdreasoning.processing import ImageError, ImageProcessor, load_image
from cdreasoning.processing.images import CLIP_MEAN, CLIP_STD


def _save(tmp_path, name, image):
    path = tmp_path / name
    image.save(path)
    return path


def test_modes_are_converted_to_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    grey16 = (rng.integers(0, 65536, (20, 30))).astype(np.uint16)
    sources = {
        "grey.png": Image.fromarray(rgb[..., 0], "L"),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full((20, 30), 128, np.uint8)]), "RGBA"),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "grey16.png": Image.fromarray(grey16),
    }
    for name, image in sources.items():
        loaded = load_image(_save(tmp_path, name, image))
        assert loaded.mode == "RGB" and loaded.size == (30, 20), name
    # 16-bit grey is rescaled, not clipped at 255
    loaded = np.asarray(load_image(tmp_path / "grey16.png"))[..., 0].astype(float)
    expected = grey16 / 65535 * 255
    assert np.abs(loaded - expected).max() <= 1.0
    # RGBA keeps its colour channels
    assert np.array_equal(np.asarray(load_image(tmp_path / "rgba.png")), rgb)


def test_arrays_and_pil_inputs():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(load_image(array)), array)
    assert np.array_equal(np.asarray(load_image(array.astype(np.float32) / 255)), array)
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan, np.float32))


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="nope.png: image file not found"):
        load_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(ImageError, match="bad.png: cannot decode"):
        load_image(bad)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageError, match="truncated.png"):
        load_image(truncated)


def test_pad_to_square_with_mean_colour_then_normalise():
    processor = ImageProcessor(size=8)
    image = Image.fromarray(np.full((4, 8, 3), 255, np.uint8))  # wide white strip
    tensor = processor(image)
    assert tensor.shape == (1, 3, 8, 8)
    background = torch.tensor([int(m * 255) / 255 for m in CLIP_MEAN])
    expected_pad = (background - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(tensor[0, :, 0, 0], expected_pad, atol=1e-6)  # top rows are padding
    white = (1 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(tensor[0, :, 4, 4], white, atol=1e-6)  # centre is the image
    squashed = ImageProcessor(size=8, aspect_ratio="resize")(image)
    assert torch.allclose(squashed[0, :, 0, 0], white, atol=1e-4)


def test_reads_clip_preprocessor_config(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": 448,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.25, 0.25, 0.25],
                "resample": 3,
                "size": 448,
            }
        )
    )
    processor = ImageProcessor.from_pretrained(tmp_path)
    assert (processor.size, processor.mean, processor.std) == (448, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": {"shortest_edge": 336}}))
    assert ImageProcessor.from_pretrained(tmp_path).size == 336
    assert ImageProcessor.from_pretrained(tmp_path / "missing", default_size=64).size == 64
    processor = ImageProcessor(size=32)
    processor.save_pretrained(tmp_path)
    assert ImageProcessor.from_pretrained(tmp_path) == processor
