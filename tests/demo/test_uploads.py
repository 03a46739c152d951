"""Upload checks of the demo page: every bad file gives one line naming the upload, good files become 8-bit sRGB
PNGs inside the temporary folder, and the folder goes away. Expected pixels come from numpy, not from the code
under test."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdreasoning.demo.uploads import MAX_PIXELS, MIN_SIDE, UploadError, UploadFolder, prepare_upload


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def write_png16_rgb(path: Path, rgb16: np.ndarray) -> Path:
    """A 48-bit RGB PNG written by hand (Pillow cannot write one)."""
    height, width, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def folder(tmp_path):
    uploads = UploadFolder(parent=tmp_path)
    yield uploads
    uploads.cleanup()


def _rgb(seed: int, height: int = 24, width: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_an_rgb_png_is_copied_exactly(folder, tmp_path):
    pixels = _rgb(0, 40, 48)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    request = folder.request_dir()
    image = prepare_upload(tmp_path / "photo.png", request, "reference image")
    assert image.path.parent == request and folder.contains(image.path)
    assert image.notes == () and image.size == (48, 40) == image.original_size
    np.testing.assert_array_equal(np.asarray(Image.open(image.path)), pixels)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_text("name,value\n1,2\n"), "is not an image"),
        (lambda p: p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "is not an image"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
    ],
)
def test_not_an_image(folder, tmp_path, make, expected):
    path = tmp_path / "upload.png"
    make(path)
    with pytest.raises(UploadError, match=expected) as error:
        prepare_upload(path, folder.request_dir(), "test image")
    assert "test image" in str(error.value) and "\n" not in str(error.value)


def test_truncated_image_is_reported_as_corrupt(folder, tmp_path):
    Image.fromarray(_rgb(1, 200, 200)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UploadError, match=r"reference image \(cut.png\): corrupt or truncated"):
        prepare_upload(tmp_path / "cut.png", folder.request_dir(), "reference image")


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 50), (50, 3)])
def test_tiny_images_are_refused(folder, tmp_path, size):
    Image.new("RGB", size, (10, 20, 30)).save(tmp_path / "tiny.png")
    with pytest.raises(UploadError, match=f"{size[0]}×{size[1]} px; at least {MIN_SIDE}×{MIN_SIDE}"):
        prepare_upload(tmp_path / "tiny.png", folder.request_dir(), "test image")


def test_huge_image_is_downscaled_with_a_note(folder, tmp_path):
    Image.new("RGB", (3000, 1000), (200, 100, 50)).save(tmp_path / "wide.png")
    image = prepare_upload(tmp_path / "wide.png", folder.request_dir(), "test image", max_side=600)
    assert image.size == (600, 200) and image.original_size == (3000, 1000)
    assert image.notes == (
        "test image: 3000×1000 px downscaled to 600×200 px (area averaging) for the analysis",
    )
    # Area averaging of a flat image keeps its colour exactly.
    assert set(map(tuple, np.asarray(Image.open(image.path)).reshape(-1, 3))) == {(200, 100, 50)}


def test_decompression_bomb_is_refused_before_decoding(folder, tmp_path):
    side = int(MAX_PIXELS**0.5) + 10  # the header claims it; the pixel data is a few bytes
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    (tmp_path / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(UploadError, match="too many pixels|megapixels"):
        prepare_upload(tmp_path / "bomb.png", folder.request_dir(), "test image")


def test_sixteen_bit_rgb_is_reduced_with_a_note(folder, tmp_path):
    rgb16 = np.random.default_rng(2).integers(0, 65536, (32, 40, 3), dtype=np.uint16)
    image = prepare_upload(write_png16_rgb(tmp_path / "deep.png", rgb16), folder.request_dir(), "test image")
    assert image.notes == ("test image: 16-bit image reduced to 8 bits per channel",)
    # Pillow keeps the high byte of each 16-bit sample.
    np.testing.assert_array_equal(np.asarray(Image.open(image.path)), (rgb16 >> 8).astype(np.uint8))


def test_sixteen_bit_grey_is_reduced_with_a_note(folder, tmp_path):
    grey = np.array([[0, 257, 32896, 65535] * 8] * 32, dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    image = prepare_upload(tmp_path / "grey16.png", folder.request_dir(), "reference image")
    assert image.notes == ("reference image: 16-bit image reduced to 8 bits per channel",)
    expected = np.rint(grey / 257.0).astype(np.uint8)  # 65535 → 255
    np.testing.assert_array_equal(np.asarray(Image.open(image.path)), np.repeat(expected[..., None], 3, -1))


def test_cmyk_is_converted_with_a_note(folder, tmp_path):
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(tmp_path / "print.tif")  # magenta + yellow ink: red
    image = prepare_upload(tmp_path / "print.tif", folder.request_dir(), "test image")
    assert len(image.notes) == 1 and "CMYK converted to RGB without its colour profile" in image.notes[0]
    # Pillow's naive conversion: R = 255 − C − K, G = 255 − M − K, B = 255 − Y − K (clipped).
    assert tuple(np.asarray(Image.open(image.path))[0, 0]) == (255, 0, 0)


def test_opaque_alpha_is_dropped_and_transparency_composited_on_white(folder, tmp_path):
    rgba = np.dstack([_rgb(3, 32, 32), np.full((32, 32), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    image = prepare_upload(tmp_path / "opaque.png", folder.request_dir(), "test image")
    assert image.notes == ()
    np.testing.assert_array_equal(np.asarray(Image.open(image.path)), rgba[..., :3])
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "hole.png")
    image = prepare_upload(tmp_path / "hole.png", folder.request_dir(), "test image")
    assert image.notes == ("test image: 2 transparent pixel(s) composited on white, as a viewer shows them",)
    pixels = np.asarray(Image.open(image.path)).astype(int)
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    half = rgba[0, 1, :3].astype(float) * 128 / 255 + 255 * (1 - 128 / 255)
    np.testing.assert_allclose(pixels[0, 1], half, atol=0.51)
    np.testing.assert_array_equal(pixels[1:], rgba[1:, :, :3])


def test_small_images_get_a_note(folder, tmp_path):
    Image.fromarray(_rgb(5, 20, 40)).save(tmp_path / "thumb.png")
    image = prepare_upload(tmp_path / "thumb.png", folder.request_dir(), "test image")
    assert image.notes == ("test image: only 40×20 px; is it a thumbnail?",)


def test_float_grey_is_reduced_with_a_note(folder, tmp_path):
    grey = np.linspace(0.0, 1.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    Image.fromarray(grey, "F").save(tmp_path / "float.tif")
    image = prepare_upload(tmp_path / "float.tif", folder.request_dir(), "test image")
    assert image.notes == ("test image: 32-bit integer / floating-point grey image reduced to 8 bits",)
    expected = np.floor(grey * 255.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(image.path))[..., 0], expected)


def test_exif_orientation_is_applied(folder, tmp_path):
    pixels = _rgb(4, 36, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif)
    image = prepare_upload(tmp_path / "rotated.png", folder.request_dir(), "test image")
    np.testing.assert_array_equal(np.asarray(Image.open(image.path)), np.rot90(pixels, k=-1))


def test_folder_is_private_and_cleaned(tmp_path):
    uploads = UploadFolder(parent=tmp_path)
    first, second = uploads.request_dir(), uploads.request_dir()
    assert first != second and first.parent == second.parent == uploads.root
    (first / "x.png").write_bytes(b"1")
    uploads.discard(first)
    assert not first.exists() and second.exists()
    outside = tmp_path / "keep"
    outside.mkdir()
    uploads.discard(outside)  # never removes anything outside its root
    uploads.discard(uploads.root)
    assert outside.exists() and uploads.root.exists()
    uploads.cleanup()
    assert not uploads.root.exists() and outside.exists()
