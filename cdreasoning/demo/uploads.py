"""Check and normalise what a user drops on the demo page, inside one temporary folder that is removed at exit.

    with UploadFolder() as folder:                     # a fresh temp dir, deleted on exit (or .cleanup())
        image = prepare_upload("/tmp/gradio/x.jpg", folder, "reference image")
        image.path       # folder/…/reference.png: 8-bit sRGB PNG, EXIF orientation applied
        image.notes      # ["reference image: 6000×4000 px downscaled to 2048×1365 …"]

A bad upload raises `UploadError` with one line meant for the page (never a traceback):

| upload | result |
|---|---|
| not an image (text, PDF, …), empty file | UploadError "is not an image Pillow can read" |
| truncated or corrupt image | UploadError "is corrupt or truncated" |
| smaller than `MIN_SIDE` px (1×1, …) | UploadError: a colour difference needs some pixels to look at |
| more than `MAX_PIXELS` (a decompression bomb) | UploadError, before any pixel is decoded |
| longer side above `max_side` | downscaled (area averaging) to `max_side`, with a note |
| 16-bit (grey or colour), 32-bit integer or float grey | converted to 8 bits per channel, with a note |
| CMYK, palette, grey, LA/RGBA fully opaque | converted to RGB, with a note for CMYK (no colour management) |
| transparent pixels | composited on white (as a viewer shows them), with a note |
| smaller than 32 px on a side | used, with a note (a thumbnail?) |

Pixels are decoded once, by the package's one image reader (`cdreasoning.data.images.read_rgb`: EXIF
orientation applied, pixel values taken as sRGB, an embedded ICC profile not applied), and written as a PNG, so
the model, the baselines and CD-Flow read the same pixels from the same file; this module only adds the checks
and the notes a person at the page needs. Nothing is written outside the folder: the normalised copies live in
one sub-folder per request, which `UploadFolder.discard` removes when the page has shown its result.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "PreparedImage",
    "UploadError",
    "UploadFolder",
    "prepare_upload",
]

MIN_SIDE = 8  # below this there is no image to judge (and the model would upsample a few pixels to 448)
MAX_SIDE = 2048  # longer side kept for the analysis; the baselines use ≤ 1024 px anyway
MAX_PIXELS = 120_000_000  # refused before decoding: ~360 MB of RGB, far beyond any camera's output


class UploadError(ValueError):
    """An uploaded file cannot be used; the message is one line for the page and names the upload."""


@dataclass(frozen=True)
class PreparedImage:
    """An upload turned into an 8-bit sRGB PNG inside the upload folder.

    path: the PNG; size: its (width, height); original_size: the upload's (width, height) after EXIF
    rotation; notes: what was changed, one sentence each (shown on the page).
    """

    path: Path
    size: tuple[int, int]
    original_size: tuple[int, int]
    notes: tuple[str, ...] = field(default_factory=tuple)


class UploadFolder:
    """A private temporary folder for the normalised uploads of one server; removed by `cleanup()` / `with`.

    Each analysis gets its own sub-folder (`request_dir()`), removed again by `discard()`, so concurrent users
    never see each other's files and a long-running server does not accumulate uploads.
    """

    def __init__(self, parent: str | Path | None = None, prefix: str = "cdreasoning-demo-"):
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def request_dir(self) -> Path:
        with self._lock:
            number = next(self._counter)
        path = self.root / f"request-{number:06d}"
        path.mkdir()
        return path

    def contains(self, path: str | Path) -> bool:
        return Path(path).resolve().is_relative_to(self.root)

    def discard(self, path: str | Path) -> None:
        """Remove one request folder (only ever a folder inside the root)."""
        path = Path(path).resolve()
        if path != self.root and self.contains(path):
            shutil.rmtree(path, ignore_errors=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def _inspect(source: Path, label: str, notes: list[str]) -> None:
    """Read the header only: is it an image, how large, which pixel format. Nothing is decoded yet, so a
    decompression bomb is refused before it costs memory. Conversions that change values are noted."""
    from PIL import Image, UnidentifiedImageError

    if not source.is_file():
        raise UploadError(f"{label}: no file was received")
    if source.stat().st_size == 0:
        raise UploadError(f"{label} ({source.name}): the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            handle = Image.open(source)
    except UnidentifiedImageError:
        raise UploadError(
            f"{label} ({source.name}) is not an image Pillow can read (use PNG, JPEG, TIFF, WebP or BMP)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"{label} ({source.name}) has too many pixels to open safely") from None
    except Exception as err:  # noqa: BLE001 - Pillow reports bad headers with many exception types
        raise UploadError(f"{label} ({source.name}) is corrupt ({type(err).__name__}: {err})") from None
    with handle:
        width, height = handle.size
        if width * height > MAX_PIXELS:
            raise UploadError(
                f"{label} ({source.name}) is {width}×{height} px, more than {MAX_PIXELS // 1_000_000} "
                "megapixels; downscale it first"
            )
        if handle.mode.startswith("I;16") or _sixteen_bit_colour(handle):
            notes.append(f"{label}: 16-bit image reduced to 8 bits per channel")
        elif handle.mode in ("I", "F"):
            notes.append(f"{label}: 32-bit integer / floating-point grey image reduced to 8 bits")
        elif handle.mode == "CMYK":
            notes.append(
                f"{label}: CMYK converted to RGB without its colour profile; colours are approximate "
                "(convert it to sRGB in an editor for exact numbers)"
            )


def _sixteen_bit_colour(handle) -> bool:
    """Pillow decodes 48/64-bit PNG and TIFF colour images straight to 8-bit RGB(A) (the raw mode of the tile,
    e.g. "RGB;16B", tells)."""
    tiles = getattr(handle, "tile", None) or []
    args = tiles[0].args if tiles else None
    raw = args[0] if isinstance(args, tuple) and args else args
    return handle.mode in ("RGB", "RGBA") and isinstance(raw, str) and ";16" in raw


def _transparent_pixels(source: Path) -> int:
    """How many pixels of the file are not fully opaque (0 for images without alpha)."""
    from PIL import Image

    with Image.open(source) as handle:
        if not ("A" in handle.mode or "a" in handle.mode or "transparency" in handle.info):
            return 0
        alpha = np.asarray(handle.convert("RGBA").getchannel("A"))
    return int((alpha < 255).sum())


def _decode(source: Path, label: str, notes: list[str]) -> np.ndarray:
    """Pixels by the package's one image reader, its error reworded for the page: the upload's temporary path
    means nothing to the user, its label does. The reader's small-image warning becomes a note."""
    from cdreasoning.data.images import SMALL_IMAGE_SIDE, read_rgb
    from cdreasoning.errors import ImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reader warns once per process about small images
            pixels = read_rgb(source)
        transparent = _transparent_pixels(source)
    except ImageError as err:
        reason = str(err).removeprefix(f"{source}: ")
        if reason.startswith("cannot read image"):
            reason = "corrupt or truncated image" + reason.removeprefix("cannot read image")
        raise UploadError(f"{label} ({source.name}): {reason}") from None
    if transparent:
        notes.append(
            f"{label}: {transparent} transparent pixel(s) composited on white, as a viewer shows them"
        )
    height, width = pixels.shape[:2]
    if MIN_SIDE <= min(height, width) < SMALL_IMAGE_SIDE:
        notes.append(f"{label}: only {width}×{height} px; is it a thumbnail?")
    return pixels


def prepare_upload(
    source: str | Path, folder: Path, label: str, *, max_side: int = MAX_SIDE, name: str | None = None
) -> PreparedImage:
    """Validate one uploaded file and write its normalised 8-bit sRGB PNG into `folder`.

    source: the uploaded file (read only, never moved); folder: a request folder of an `UploadFolder`;
    label: how the page names it ("reference image"); name: the PNG's stem (default: label's first word).
    Raises UploadError with one line naming the upload.
    """
    from PIL import Image

    source = Path(source)
    notes: list[str] = []
    _inspect(source, label, notes)
    pixels = _decode(source, label, notes)
    height, width = pixels.shape[:2]
    if min(width, height) < MIN_SIDE:
        raise UploadError(
            f"{label} is {width}×{height} px; at least {MIN_SIDE}×{MIN_SIDE} px are needed to judge a colour "
            "difference"
        )
    image = Image.fromarray(pixels, "RGB")
    original = image.size
    if max(width, height) > max_side:
        factor = max_side / max(width, height)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = image.resize(size, Image.Resampling.BOX)
        notes.append(
            f"{label}: {width}×{height} px downscaled to {size[0]}×{size[1]} px (area averaging) for the analysis"
        )
    stem = name or label.split()[0]
    target = Path(folder) / f"{stem}.png"
    image.save(target, format="PNG")
    return PreparedImage(path=target, size=image.size, original_size=original, notes=tuple(notes))
