"""The one image reader (`cdreasoning.data.images`): modes, orientation, alpha, sizes, and errors naming the file.

Expected pixels are computed here from the arrays written (numpy), not by the reader under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from cdreasoning.data import images as images_module
from cdreasoning.data.images import common_size, load_image, load_pair, read_rgb
from cdreasoning.errors import DataError, ImageError


def _save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_modes_are_converted_to_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (40, 60)).astype(np.uint16)
    sources = {
        "grey.png": Image.fromarray(rgb[..., 0], "L"),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full((40, 60), 128, np.uint8)]), "RGBA"),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "grey16.png": Image.fromarray(grey16),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
    }
    for name, image in sources.items():
        loaded = load_image(_save(tmp_path, name, image))
        assert loaded.mode == "RGB" and loaded.size == (60, 40), name
    # 16-bit grey is rescaled (v / 257), not clipped at 255
    loaded = read_rgb(tmp_path / "grey16.png")[..., 0].astype(float)
    assert np.abs(loaded - grey16 / 257.0).max() <= 0.5 + 1e-9
    # the 8-bit grey is replicated into three equal channels
    assert (read_rgb(tmp_path / "grey.png") == rgb[..., :1]).all()


def test_alpha_is_composited_on_white(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    alpha = np.full((40, 40), 128, np.uint8)
    alpha[:, :10] = 255  # opaque strip: the colour is kept as it is
    alpha[:, 10:20] = 0  # fully transparent strip: white
    _save(tmp_path, "rgba.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    loaded = read_rgb(tmp_path / "rgba.png").astype(float)
    a = alpha[..., None] / 255.0
    expected = rgb * a + 255.0 * (1.0 - a)  # "over" a white background
    assert np.abs(loaded - expected).max() <= 0.5 + 1e-6
    assert (loaded[:, :10] == rgb[:, :10]).all() and (loaded[:, 10:20] == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    # a 60×40 landscape image stored with EXIF orientation 6 ("rotate 90° clockwise to view")
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :5] = (255, 0, 0)  # red strip on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path, "rotated.jpg", Image.fromarray(rgb), exif=exif, quality=100)
    upright = read_rgb(path)
    assert upright.shape == (60, 40, 3)  # portrait once turned
    assert upright[:5, :, 0].mean() > 200 and upright[-5:, :, 0].mean() < 50  # left edge became the top


def test_arrays_and_pil_inputs():
    rng = np.random.default_rng(2)
    array = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(load_image(array)), array)
    assert np.array_equal(np.asarray(load_image(array.astype(np.float32) / 255)), array)
    assert np.array_equal(np.asarray(load_image(Image.fromarray(array))), array)
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan, np.float32))


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="nope.png: image file not found"):
        load_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(ImageError, match="bad.png: cannot read image"):
        load_image(bad)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageError, match="truncated.png"):
        load_image(truncated)
    # one error type: an ImageError is a DataError (and a ValueError) for the data readers that catch those
    assert issubclass(ImageError, DataError) and issubclass(ImageError, ValueError)


def test_tiny_images_warn_once(tmp_path, monkeypatch):
    monkeypatch.setattr(images_module, "_warned_small", False)
    tiny = _save(tmp_path, "tiny.png", Image.fromarray(np.zeros((16, 40, 3), np.uint8)))
    with pytest.warns(UserWarning, match=r"tiny.png: image is only 40×16 px"):
        read_rgb(tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_rgb(tiny)  # once per process


def test_common_size_rule():
    assert common_size((1024, 1024), (1024, 1024), 1024) == (1024, 1024)
    assert common_size((1024, 1024), (1024, 1024), 256) == (256, 256)
    assert common_size((1000, 800), (960, 820), None) == (960, 800)
    assert common_size((4000, 3000), (4000, 3000), 1024) == (1024, 768)


def test_load_pair_resizes_different_sizes_and_reports_scale(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (30, 80, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    pair = load_pair(tmp_path / "a.png", tmp_path / "b.png")
    assert pair.a.shape == pair.b.shape == (30, 60, 3) and pair.scale == 1.0
    pair = load_pair(tmp_path / "a.png", tmp_path / "b.png", max_side=30)
    assert pair.a.shape == (15, 30, 3) and pair.scale == pytest.approx(0.5)
