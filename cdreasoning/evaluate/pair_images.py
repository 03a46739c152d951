"""Load the two images of a pair as same-size 8-bit sRGB arrays for the pixel-wise baselines.

    from cdreasoning.evaluate.pair_images import load_pair
    pair = load_pair("I0006_01_03.png", "I0006_01_04.png", max_side=1024)
    pair.a, pair.b      # uint8 (H, W, 3), same shape
    pair.scale          # processed width / original width of image a (S-CIELAB scales its resolution by it)

Rules (documented in docs/evaluation.md):
- Decoding: Pillow; the EXIF orientation is applied; pixel values are taken as sRGB (an embedded ICC profile
  is not applied). Grey and palette images become RGB; 16-bit grey is reduced to 8 bits; an alpha channel is
  dropped only when fully opaque (a transparent pixel has no defined colour, so it is an error).
- Common size: when the two images differ in size, both are resized to (min width, min height) — pairs are
  two versions of one scene, so this only undoes a crop or downscale of one of them. Then, when the longer
  side exceeds `max_side`, both are downscaled (aspect kept) so it equals `max_side`. Resampling is area
  averaging (Pillow BOX), which neither rings nor invents colours. Nothing is ever upscaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cdreasoning.data.errors import DataError

__all__ = ["PairImages", "common_size", "load_pair", "read_rgb"]


@dataclass(frozen=True)
class PairImages:
    a: np.ndarray  # uint8 (H, W, 3)
    b: np.ndarray  # uint8 (H, W, 3), same shape as a
    scale: float  # processed width / original width of image a


def _open(path: Path):
    from PIL import Image, ImageOps

    if not path.is_file():
        raise DataError(f"{path}: image not found")
    try:
        with Image.open(path) as handle:
            handle.load()
            image = ImageOps.exif_transpose(handle)
    # Pillow signals a bad file with many unrelated types (OSError, SyntaxError, struct.error, ValueError,
    # DecompressionBombError, …); every one of them means "this file cannot be used".
    except Exception as err:  # noqa: BLE001
        raise DataError(f"{path}: cannot read image ({type(err).__name__}: {err})") from None
    return image


def _to_rgb(image, path: Path):
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16"):
        grey = (np.asarray(image, dtype=np.float64) / 257.0).round().astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=-1), "RGB")
    if mode in ("I", "F"):
        raise DataError(f"{path}: unsupported image mode {mode!r} (32-bit integer / float pixels)")
    if "A" in mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if alpha.min() < 255:
            raise DataError(
                f"{path}: {int((alpha < 255).sum())} transparent pixel(s); colour is undefined there"
            )
        return rgba.convert("RGB")
    return image.convert("RGB")


def read_rgb(path: str | Path) -> np.ndarray:
    """One image as uint8 (H, W, 3) sRGB. Raises DataError naming the file when it cannot be used."""
    path = Path(path)
    return np.asarray(_to_rgb(_open(path), path), dtype=np.uint8)


def common_size(size_a: tuple[int, int], size_b: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) both images are brought to: the smaller extent per axis, then capped by `max_side`."""
    width, height = min(size_a[0], size_b[0]), min(size_a[1], size_b[1])
    if max_side is not None and max(width, height) > max_side:
        factor = max_side / max(width, height)
        width, height = max(1, round(width * factor)), max(1, round(height * factor))
    return width, height


def load_pair(path_a: str | Path, path_b: str | Path, max_side: int | None = None) -> PairImages:
    """Both images of a pair, decoded and brought to a common size (rules in the module docstring)."""
    from PIL import Image

    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    path_a, path_b = Path(path_a), Path(path_b)
    image_a = _to_rgb(_open(path_a), path_a)
    image_b = _to_rgb(_open(path_b), path_b)
    size = common_size(image_a.size, image_b.size, max_side)
    arrays = []
    for image in (image_a, image_b):
        if image.size != size:
            image = image.resize(size, Image.Resampling.BOX)
        arrays.append(np.asarray(image, dtype=np.uint8))
    return PairImages(arrays[0], arrays[1], size[0] / image_a.size[0])
