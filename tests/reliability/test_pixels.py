"""Case 5: the model and the baselines read the same pixels from the same file (one reader, `data.images`).

An EXIF-rotated photo reaches the model upright, as the baselines see it; an RGBA image is composited on
white for both; a tiny image is scored with a warning. Expected pixels come from Pillow's own
`ImageOps.exif_transpose` and a hand-written alpha composite, not from the reader under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cdreasoning.data import images as image_reader
from cdreasoning.data.images import read_rgb
from cdreasoning.processing import ImageProcessor


@pytest.fixture
def upright(tmp_path):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    path = tmp_path / "upright.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_exif_rotated_photo_reaches_model_and_baselines_upright(tiny_checkpoint, upright, tmp_path):
    path, pixels = upright
    sideways = Image.fromarray(pixels).transpose(Image.Transpose.ROTATE_90)  # stored sideways …
    exif = Image.Exif()
    exif[0x0112] = 6  # … with "rotate 90° clockwise to display"
    rotated = tmp_path / "rotated.png"
    sideways.save(rotated, exif=exif.tobytes())
    with Image.open(rotated) as stored:
        reference = np.asarray(ImageOps.exif_transpose(stored).convert("RGB"))
    assert np.array_equal(reference, pixels)  # Pillow's reading of the tag: upright is the original

    assert np.array_equal(read_rgb(rotated), pixels)  # the baselines' pixels
    processor = ImageProcessor.from_pretrained(tiny_checkpoint)
    assert torch.equal(processor([rotated]), processor([path]))  # the model's pixels


def test_rgba_is_composited_on_white_for_model_and_baselines(tiny_checkpoint, upright, tmp_path):
    _, pixels = upright
    alpha = np.linspace(0, 255, pixels.shape[1]).round().astype(np.uint8)[None, :].repeat(pixels.shape[0], 0)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(rgba)
    a = alpha[..., None] / 255.0
    expected = np.rint(pixels * a + 255.0 * (1 - a))
    assert np.abs(read_rgb(rgba).astype(float) - expected).max() <= 1
    composite = tmp_path / "composite.png"
    Image.fromarray(read_rgb(rgba)).save(composite)
    processor = ImageProcessor.from_pretrained(tiny_checkpoint)
    assert torch.equal(processor([rgba]), processor([composite]))


def test_a_1x1_image_is_scored_with_a_warning(tiny_checkpoint, tmp_path, monkeypatch):
    from cdreasoning import CDScorer

    monkeypatch.setattr(image_reader, "_warned_small", False)
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(tiny)
    scorer = CDScorer.from_pretrained(tiny_checkpoint, device="cpu")
    with pytest.warns(UserWarning, match=r"dot.png: image is only 1×1 px"):
        result = scorer.score(tiny, tiny)
    assert 0 <= result.score <= 5
