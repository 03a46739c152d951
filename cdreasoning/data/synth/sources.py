"""Real photographs that ship inside installed packages, and scenes cut from them (no download needed).

    from cdreasoning.data.synth.sources import SOURCES, load_source, make_scene
    photo = load_source("coffee")                       # uint8 [H, W, 3], loaded once per process
    scene = make_scene("coffee", rng, canvas=308)       # float32 sRGB [308, 308, 3] in [0, 1]

Sources: scikit-image's bundled images (astronaut, coffee, chelsea, rocket, hubble_deep_field, the left view
of stereo_motorcycle, immunohistochemistry, retina — the other skimage.data images download and fail offline),
scikit-learn's china.jpg and flower.jpg, matplotlib's grace_hopper.jpg. A scene is a seeded square crop
(50–100 % of the short side, anywhere in the photo; retina near its centre, to avoid the black surround),
optionally mirrored, resized with Pillow's bicubic filter.
"""

from __future__ import annotations

import functools
import random

import numpy as np

from cdreasoning.errors import DataError

SOURCES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "stereo_motorcycle",
    "immunohistochemistry",
    "retina",
    "china",
    "flower",
    "grace_hopper",
)


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    return image[0] if name == "stereo_motorcycle" else image  # (left, right, disparity) → left view


def _sklearn(name: str) -> np.ndarray:
    # Read the JPEG that scikit-learn ships (sklearn/datasets/images/) without importing scikit-learn, whose
    # import alone takes ~2 s; fall back to its loader if the file is not where the wheel puts it.
    import importlib.util
    from pathlib import Path

    from PIL import Image

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "datasets" / "images" / f"{name}.jpg"
        if path.is_file():
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def _matplotlib(name: str) -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data(f"{name}.jpg") as handle, Image.open(handle) as image:
        return np.asarray(image.convert("RGB"))


_LOADERS = {"china": _sklearn, "flower": _sklearn, "grace_hopper": _matplotlib}


@functools.cache
def load_source(name: str) -> np.ndarray:
    """The photo `name` as uint8 RGB [H, W, 3] (cached: each source is read once per process)."""
    if name not in SOURCES:
        raise ValueError(f"unknown source photo {name!r}; known: {', '.join(SOURCES)}")
    try:
        image = _LOADERS.get(name, _skimage)(name)
    except Exception as error:  # an optional package missing or its data file absent
        raise DataError(
            f"cannot load the bundled photo {name!r} ({type(error).__name__}: {error}); it ships with "
            f"scikit-image / scikit-learn / matplotlib — is the package installed?"
        ) from error
    image = np.ascontiguousarray(image[..., :3].astype(np.uint8))
    image.setflags(write=False)
    return image


def make_scene(name: str, rng: random.Random, canvas: int) -> np.ndarray:
    """A seeded square crop of photo `name`, resized to canvas × canvas: float32 sRGB [canvas, canvas, 3]."""
    from PIL import Image

    photo = load_source(name)
    height, width = photo.shape[:2]
    short = min(height, width)
    if name == "retina":  # the fundus fills a disc on black; stay inside it
        side = int(short * (0.30 + 0.25 * rng.random()))
        cy, cx = (
            height / 2 + (rng.random() - 0.5) * 0.2 * short,
            width / 2 + (rng.random() - 0.5) * 0.2 * short,
        )
        top, left = int(cy - side / 2), int(cx - side / 2)
    else:
        side = int(short * (0.5 + 0.5 * rng.random()))
        top, left = int((height - side) * rng.random()), int((width - side) * rng.random())
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    crop = crop.resize((canvas, canvas), Image.Resampling.BICUBIC)
    return np.asarray(crop, dtype=np.float32) / 255.0
