"""Image preprocessing for the vision tower: padding uses the mean colour, CLIP normalisation, config files.

Reading image files is tested in tests/data/test_images.py (the one reader)."""

import json

import numpy as np
import torch
from PIL import Image

from cdreasoning.processing import ImageProcessor
from cdreasoning.processing.images import CLIP_MEAN, CLIP_STD


def _save(tmp_path, name, image):
    path = tmp_path / name
    image.save(path)
    return path


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
