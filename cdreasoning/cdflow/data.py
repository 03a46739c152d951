"""Image pairs for CD-Flow: the training augmentation, the evaluation preprocessing, and a resumable order.

    from cdreasoning.cdflow.data import TrainPairs, EvalPairs, epoch_batches
    train = TrainPairs(pairs, "SPCD/images", csv_path="data/train.csv", image_size=768, seed=100)
    x, y, delta_v, index = train[(epoch, i)]         # x, y float32 [3, 768, 768] in [0, 1]
    batches = epoch_batches(len(train), batch_size=8, seed=100, epoch=3, start_batch=0)   # lists of keys
    test = EvalPairs(pairs, "SPCD/images", csv_path="data/test.csv", eval_size=1024, multiple=64)
    x, y, delta_v, index = test[i]                   # [3, H, W], H and W multiples of 64

Training augmentation (each image of a pair independently, as the paper: "robust to mild misalignment"), for
a training size S (768 in the paper; every length scales with S): resize the shorter side to S·1024/768 →
rotate by a uniform angle in ±3° → random square crop of S·1000/768 → resize to S×S. Resampling is bilinear
(Pillow, antialiased when shrinking). The original filled the corners uncovered by the rotation with black,
~0.9 % of every training crop at 3°, black in one image and not in the other — a colour difference the labels do
not contain; here the image is reflect-padded before rotating, so the corners hold (mirrored) image content.
With `dequantize`, the 8-bit values v become (v + u)/256 with u ~ U[0, 1) per value (uniform dequantisation,
so that the flow models a density on continuous values); without it, v/255 as at test time.

Evaluation preprocessing (`prepare_eval_pair`, also used by `CDFlowMetric` for image files): both images are
brought to a common size (`data.images.load_pair`: the smaller extent per axis, area resampling),
then resized so the shorter side is `eval_size` (bilinear; skipped when already so), then centre-cropped so
that height and width are multiples of 2**scales (at most 2**scales − 1 pixels are cut per axis).
The original tested at 1024 px after a square centre crop; here the aspect ratio is kept.

Reproducibility: every random choice is drawn from numpy generators seeded by (seed, epoch, pair index) — the
order of an epoch from (seed, epoch), each image's rotation, crop and dequantisation noise from
(seed, epoch, index, image) — so a resumed run sees exactly the batches and pixels the uninterrupted run would,
whatever the number of loader workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cdreasoning.data.spcd import SpcdPair
from cdreasoning.errors import DataError

__all__ = [
    "EvalPairs",
    "TrainPairs",
    "augment_image",
    "check_pair_images",
    "default_eval_size",
    "epoch_batches",
    "prepare_eval_arrays",
    "prepare_eval_pair",
    "train_geometry",
]

MAX_ROTATION_DEGREES = 3.0
# Distinct stream constants keep the order draws and the per-image draws independent for one (seed, epoch).
_ORDER_STREAM = 0x0D3E
_IMAGE_STREAM = 0x1AA6


def train_geometry(image_size: int) -> tuple[int, int]:
    """(shorter side after the first resize, crop side) for training size S: the paper's (1024, 1000) at 768."""
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 px, got {image_size}")
    return round(image_size * 1024 / 768), round(image_size * 1000 / 768)


def default_eval_size(image_size: int, multiple: int) -> int:
    """The evaluation size of a model trained at S: S·1024/768 (the paper: 768 → 1024), to the nearest
    positive multiple of 2**scales."""
    target = image_size * 1024 / 768
    return max(multiple, round(target / multiple) * multiple)


def check_pair_images(pairs: Sequence[SpcdPair], image_dir: str | Path, csv_path: str | Path) -> None:
    """DataError naming the CSV line of the first pair whose image file does not exist."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: image folder not found")
    for pair in pairs:
        for name in (pair.image_a, pair.image_b):
            if not (image_dir / name).is_file():
                raise DataError(f"{csv_path}:{pair.line}: image {image_dir / name} not found")


def _resize_shorter(image, side: int):
    """A Pillow image resized (bilinear) so its shorter side is `side` (torchvision's Resize(int) rule)."""
    from PIL import Image

    width, height = image.size
    if min(width, height) == side:
        return image
    if width <= height:
        # int() truncates the long side, as torchvision's Resize(int) does.
        size = (side, max(1, int(side * height / width)))
    else:
        size = (max(1, int(side * width / height)), side)
    return image.resize(size, Image.Resampling.BILINEAR)


def augment_image(rgb: np.ndarray, rng: np.random.Generator, image_size: int) -> np.ndarray:
    """One training view of an image: uint8 (H, W, 3) → uint8 (S, S, 3) (rules in the module docstring)."""
    from PIL import Image

    resize_to, crop = train_geometry(image_size)
    image = _resize_shorter(Image.fromarray(rgb), resize_to)
    width, height = image.size
    angle = float(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    # The crop offset is drawn on the unpadded image; the padding is added back at the crop below.
    left = int(rng.integers(0, width - crop + 1))
    top = int(rng.integers(0, height - crop + 1))
    # Reflect-pad so that the rotated image still covers the whole W×H frame (no black corners).
    # Rotating by θ uncovers corners at most max(W, H)/2·sin θ deep; one more pixel for rounding.
    pad = math.ceil(max(width, height) / 2 * math.sin(math.radians(MAX_ROTATION_DEGREES))) + 1
    padded = Image.fromarray(np.pad(np.asarray(image), ((pad, pad), (pad, pad), (0, 0)), mode="reflect"))
    # Rotation about the padded image's centre, which is also the original image's centre.
    rotated = padded.rotate(angle, resample=Image.Resampling.BILINEAR)
    view = rotated.crop((pad + left, pad + top, pad + left + crop, pad + top + crop))
    if crop != image_size:
        view = view.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.asarray(view, dtype=np.uint8)


def to_tensor(rgb: np.ndarray, noise: np.ndarray | None = None) -> torch.Tensor:
    """uint8 (H, W, 3) → float32 [3, H, W]: v/255, or (v + noise)/256 with noise in [0, 1) (dequantised)."""
    if noise is None:
        values = rgb.astype(np.float32) / 255.0
    else:
        # /256 with noise in [0, 1): each 8-bit level becomes its own bin of width 1/256 (uniform
        # dequantisation).
        values = (rgb.astype(np.float32) + noise) / 256.0
    return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))


def _read(image_dir: Path, name: str, where: str) -> np.ndarray:
    from cdreasoning.data.images import read_rgb

    try:
        return read_rgb(image_dir / name)
    except DataError as err:
        raise DataError(f"{where}: {err}") from None


class TrainPairs(Dataset):
    """Augmented training pairs; indexed by (epoch, pair index) so that every draw is reproducible.

    Returns (x [3, S, S], y [3, S, S], ΔV (float32 scalar tensor), pair index).
    """

    def __init__(
        self,
        pairs: Sequence[SpcdPair],
        image_dir: str | Path,
        *,
        csv_path: str | Path,
        image_size: int,
        seed: int,
        dequantize: bool = True,
    ) -> None:
        train_geometry(image_size)  # validates
        self.pairs = list(pairs)
        self.image_dir = Path(image_dir)
        self.csv_path = str(csv_path)
        self.image_size = image_size
        self.seed = seed
        self.dequantize = dequantize

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        pair = self.pairs[index]
        where = f"{self.csv_path}:{pair.line}"
        # One child stream per image, so x's and y's views are independent yet both reproducible.
        streams = np.random.SeedSequence([self.seed, epoch, index, _IMAGE_STREAM]).spawn(2)
        views = []
        for name, stream in zip((pair.image_a, pair.image_b), streams):
            rng = np.random.default_rng(stream)
            view = augment_image(_read(self.image_dir, name, where), rng, self.image_size)
            # Noise drawn after the geometry, from the same stream: the order of draws is fixed per image.
            noise = rng.random(view.shape, dtype=np.float32) if self.dequantize else None
            views.append(to_tensor(view, noise))
        return views[0], views[1], torch.tensor(pair.delta_v, dtype=torch.float32), index


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, start_batch: int = 0) -> list[list[tuple]]:
    """The batches of one epoch as lists of (epoch, index) keys for `TrainPairs`, from batch `start_batch` on.

    The order is a permutation drawn from (seed, epoch); the last batch may be smaller (as the original).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    # Independent of earlier epochs: a resumed run rebuilds epoch e's order without replaying 0 … e − 1.
    order = np.random.default_rng([seed, epoch, _ORDER_STREAM]).permutation(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    # start_batch skips the batches a resumed run has already trained on.
    return [[(epoch, int(i)) for i in batch] for batch in batches[start_batch:]]


def batches_per_epoch(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


def prepare_eval_arrays(
    rgb_a: np.ndarray, rgb_b: np.ndarray, eval_size: int | None, multiple: int, where: str = "pair"
) -> tuple[np.ndarray, np.ndarray]:
    """Two decoded images (uint8 (H, W, 3)) preprocessed for evaluation (module docstring): same shape, H and
    W multiples of `multiple`. eval_size None keeps the (common) native size."""
    from PIL import Image

    from cdreasoning.data.images import common_size

    if eval_size is not None and (eval_size < multiple or eval_size % multiple):
        raise ValueError(f"eval_size must be a positive multiple of {multiple}, got {eval_size}")
    images = [Image.fromarray(rgb) for rgb in (rgb_a, rgb_b)]
    size = common_size(images[0].size, images[1].size, None)  # the rule of data.images.load_pair
    arrays = []
    for image in images:
        if image.size != size:
            image = image.resize(size, Image.Resampling.BOX)
        if eval_size is not None:
            image = _resize_shorter(image, eval_size)
        width, height = image.size
        crop_w, crop_h = width // multiple * multiple, height // multiple * multiple
        if crop_w == 0 or crop_h == 0:
            raise DataError(
                f"{where}: {width}×{height} px is smaller than the model's minimum side {multiple} px"
            )
        if (crop_w, crop_h) != (width, height):
            left, top = (width - crop_w) // 2, (height - crop_h) // 2
            image = image.crop((left, top, left + crop_w, top + crop_h))
        arrays.append(np.asarray(image, dtype=np.uint8))
    return arrays[0], arrays[1]


def prepare_eval_pair(
    path_a: str | Path, path_b: str | Path, eval_size: int | None, multiple: int
) -> tuple[np.ndarray, np.ndarray]:
    """Both image files of a pair, decoded (`data.images.read_rgb`) and `prepare_eval_arrays`-ed."""
    from cdreasoning.data.images import read_rgb

    return prepare_eval_arrays(read_rgb(path_a), read_rgb(path_b), eval_size, multiple, f"{path_a}, {path_b}")


class EvalPairs(Dataset):
    """Evaluation pairs (no randomness). Returns (x [3, H, W], y [3, H, W], ΔV, pair index)."""

    def __init__(
        self,
        pairs: Sequence[SpcdPair],
        image_dir: str | Path,
        *,
        csv_path: str | Path,
        eval_size: int | None,
        multiple: int,
    ) -> None:
        self.pairs = list(pairs)
        self.image_dir = Path(image_dir)
        self.csv_path = str(csv_path)
        self.eval_size = eval_size
        self.multiple = multiple

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        pair = self.pairs[index]
        try:
            a, b = prepare_eval_pair(
                self.image_dir / pair.image_a, self.image_dir / pair.image_b, self.eval_size, self.multiple
            )
        except DataError as err:
            raise DataError(f"{self.csv_path}:{pair.line}: {err}") from None
        return to_tensor(a), to_tensor(b), torch.tensor(pair.delta_v, dtype=torch.float32), index
