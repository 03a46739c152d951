"""The one image reader of the package: a file (or PIL image / numpy array) → 8-bit sRGB, with one error type.

    from cdreasoning.data.images import load_image, read_rgb, load_pair
    image = load_image("I0006_01_03.png")       # PIL RGB image (the model's preprocessing starts from it)
    array = read_rgb("I0006_01_03.png")         # uint8 (H, W, 3)
    pair = load_pair(path_a, path_b, max_side=1024)
    pair.a, pair.b                              # uint8 (H, W, 3), same shape (the pixel-wise baselines)
    pair.scale                                  # processed width / original width of image a

Used by the model's image processor (`processing.images`), the ΔE / S-CIELAB baselines (`evaluate.baseline`) and
CD-Flow (`cdflow.data`, `cdflow.metric`), so a file reads the same everywhere.

Decoding rules:
- Pillow decodes; the EXIF orientation is applied (a phone photo stored sideways is turned upright); pixel
  values are taken as sRGB (an embedded ICC profile is not applied).
- Grey, palette, CMYK and YCbCr images are converted to RGB by Pillow; 16-bit and 32-bit integer greys are
  rescaled to 8 bits (not clipped at 255); float greys are taken as 0..1.
- An alpha channel is composited on white: a transparent pixel has no colour of its own, and white is what
  a viewer shows behind it. A fully opaque alpha channel changes nothing.
- An image smaller than 32 px on a side is read, with a warning (once per process): such a file is almost
  always a thumbnail or an icon given by mistake.
- A missing or undecodable file raises `ImageError` (a `DataError`) naming the file.

Common size of a pair (`load_pair`): when the two images differ in size, both are resized to (min width, min
height) — pairs are two versions of one scene, so this only undoes a crop or downscale of one of them. Then,
when the longer side exceeds `max_side`, both are downscaled (aspect kept) so it equals `max_side`. Resampling
is area averaging (Pillow BOX), which neither rings nor invents colours. Nothing is ever upscaled.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cdreasoning.errors import ImageError

__all__ = [
    "SMALL_IMAGE_SIDE",
    "ImageError",
    "PairImages",
    "common_size",
    "load_image",
    "load_pair",
    "read_rgb",
    "to_rgb",
]

SMALL_IMAGE_SIDE = 32  # px: below this on either side, `load_image` warns (once per process)
_warned_small = False


@dataclass(frozen=True)
class PairImages:
    """The two images of a pair at a common size, for pixel-wise comparison."""

    a: np.ndarray  # uint8 (H, W, 3)
    b: np.ndarray  # uint8 (H, W, 3), same shape as a
    scale: float  # processed width / original width of image a


def _warn_if_small(image, name: str) -> None:
    global _warned_small
    width, height = image.size
    if min(width, height) < SMALL_IMAGE_SIDE and not _warned_small:
        _warned_small = True
        warnings.warn(
            f"{name}: image is only {width}×{height} px (< {SMALL_IMAGE_SIDE} px on a side); is it a thumbnail? "
            "(further small images are not reported)",
            stacklevel=3,
        )


def _array_to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """HxW / HxWx1 / HxWx3 / HxWx4 array (uint8, uint16 or float 0..1) → uint8 of the same layout."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{name}: expected an HxW, HxWx3 or HxWx4 array, got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        # 65535 / 257 = 255: the exact 16 → 8-bit rescale; + 0.5 rounds instead of truncating.
        return (array.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{name}: float image contains NaN or inf")
        # + 0.5, then truncation: rounds to the nearest level.
        return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ImageError(f"{name}: unsupported array dtype {array.dtype}")


def _composite_on_white(image):
    """RGBA → RGB over a white background: out = α·rgb + (1 − α)·255, rounded."""
    from PIL import Image

    # convert("RGBA") also turns LA / PA / palette transparency into one alpha channel.
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return Image.fromarray((rgb + 0.5).astype(np.uint8), "RGB")


def to_rgb(image, name: str):
    """Any PIL mode → an 8-bit RGB PIL image (rules in the module docstring); a new image, never `image`."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode.startswith("I;16") or mode == "I":
        # 16-bit PNGs open as I;16 (or as I with values up to 65535): rescale, do not clip at 255
        array = np.asarray(image).astype(np.float64)
        # Mode I holds 32-bit integers: 16-bit data when a value exceeds 255, else the 8-bit range already.
        peak = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = (np.clip(array / peak, 0, 1) * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        return Image.fromarray(_array_to_uint8(np.asarray(image), name)).convert("RGB")
    # A palette image with a transparent index carries it in info["transparency"], not in the mode.
    if "A" in mode or "a" in mode or "transparency" in image.info:
        return _composite_on_white(image)
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(f"{name}: cannot convert mode {mode} to RGB ({exc})") from None


def load_image(source):
    """An RGB PIL image from a path, a PIL image or an HxW(x3/4) numpy array (uint8, uint16 or float 0..1).

    Raises `ImageError` naming the file when it is missing or cannot be decoded.
    """
    from PIL import Image, ImageOps

    if isinstance(source, Image.Image):
        return to_rgb(source, "<PIL image>")
    if isinstance(source, np.ndarray):
        return to_rgb(Image.fromarray(_array_to_uint8(source, "<array>")), "<array>")
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")
    try:
        with Image.open(path) as handle:
            # load() inside the with: the file closes at its end, and Pillow decodes lazily.
            handle.load()
            # Before any conversion: the orientation tag is in the opened file's EXIF.
            image = ImageOps.exif_transpose(handle)
            rgb = to_rgb(image, str(path))
    except ImageError:
        raise
    # Pillow signals a bad file with many unrelated types (OSError, SyntaxError, struct.error, ValueError,
    # DecompressionBombError, …); every one of them means "this file cannot be used".
    except Exception as err:  # noqa: BLE001
        raise ImageError(f"{path}: cannot read image ({type(err).__name__}: {err})") from None
    _warn_if_small(rgb, str(path))
    return rgb


def read_rgb(path: str | Path) -> np.ndarray:
    """One image file as uint8 (H, W, 3) sRGB. Raises `ImageError` naming the file when it cannot be used."""
    return np.asarray(load_image(Path(path)), dtype=np.uint8)


def common_size(size_a: tuple[int, int], size_b: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) both images are brought to: the smaller extent per axis, then capped by `max_side`."""
    width, height = min(size_a[0], size_b[0]), min(size_a[1], size_b[1])
    if max_side is not None and max(width, height) > max_side:
        factor = max_side / max(width, height)
        # Rounded, never below 1 px.
        width, height = max(1, round(width * factor)), max(1, round(height * factor))
    return width, height


def load_pair(path_a: str | Path, path_b: str | Path, max_side: int | None = None) -> PairImages:
    """Both images of a pair, decoded and brought to a common size (rules in the module docstring)."""
    from PIL import Image

    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    image_a, image_b = load_image(Path(path_a)), load_image(Path(path_b))
    size = common_size(image_a.size, image_b.size, max_side)
    arrays = []
    for image in (image_a, image_b):
        if image.size != size:
            # BOX (area averaging) for downscaling: no ringing, no colours that were not in the image.
            image = image.resize(size, Image.Resampling.BOX)
        arrays.append(np.asarray(image, dtype=np.uint8))
    # Image a's scale factor, which S-CIELAB uses to keep the simulated viewing the same (s · spd).
    return PairImages(arrays[0], arrays[1], size[0] / image_a.size[0])
