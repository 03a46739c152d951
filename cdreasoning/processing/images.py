"""Image loading and preprocessing for the vision tower (CLIP style, as mPLUG-Owl2 does it).

    processor = ImageProcessor.from_pretrained(checkpoint_dir)     # reads preprocessor_config.json if present
    pixel_values = processor([img_a, img_b])                        # [2, 3, S, S] float32

Per image: load (path, PIL image or uint8/float numpy array) with the package's one reader
(`cdreasoning.data.images.load_image`: EXIF orientation, alpha composited on white, grey / palette / CMYK /
16-bit converted, `ImageError` naming a missing or undecodable file) → make it S×S → scale to [0, 1] →
normalise with the CLIP mean/std. `aspect_ratio` says how a non-square image becomes square:

- "pad" (training, scoring, and the original `cd_score.py`): pad to a square with the mean colour
  (`expand2square`), then resize to S×S bicubic;
- "crop" (the original `cd_description.py`, which calls CLIP's processor on the raw images): resize the
  shortest edge to S bicubic (the long edge to int(S·long/short)), then cut the centred S×S square;
- "resize": squash to a square, then resize.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cdreasoning.data.images import load_image
from cdreasoning.errors import ImageError

# OpenAI CLIP's normalisation statistics, which the ViT-L/14 tower was trained with.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ASPECT_RATIOS = ("pad", "crop", "resize")


@dataclass(frozen=True)
class ImageProcessor:
    """Pad-to-square + bicubic resize + CLIP normalisation to [3, size, size]."""

    size: int = 448
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    aspect_ratio: str = "pad"  # "pad" (mean-colour borders), "crop" (centre crop) or "resize" (squash)

    def __post_init__(self):
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be one of {ASPECT_RATIOS}, got {self.aspect_ratio!r}")
        if self.size < 1:
            raise ValueError("size must be positive")

    @classmethod
    def from_pretrained(cls, folder: str | Path, default_size: int | None = None, aspect_ratio: str = "pad"):
        """From `preprocessor_config.json` (CLIP processor format) or, without one, CLIP defaults at the model's
        image size (`default_size`, e.g. config.vision.image_size)."""
        path = Path(folder) / "preprocessor_config.json"
        if not path.is_file():
            if default_size is None:
                raise ImageError(f"{path} not found and no default image size given")
            return cls(size=default_size, aspect_ratio=aspect_ratio)
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ImageError(f"{path}: invalid JSON ({exc})") from None
        # CLIP processor configs give the output side as
        # crop_size (after the centre crop), older ones as size.
        size = raw.get("crop_size", raw.get("size", default_size))
        if isinstance(size, dict):
            # Newer configs write sizes as dicts ({"height", "width"} or {"shortest_edge"}).
            size = size.get("height", size.get("shortest_edge"))
        if not isinstance(size, int):
            raise ImageError(f"{path}: cannot read the image size (crop_size/size) from {raw!r}")
        # PIL's BICUBIC is 3; another filter would change every pixel the checkpoints saw.
        if raw.get("resample", 3) != 3:
            raise ImageError(
                f"{path}: resample {raw.get('resample')} is not bicubic (3), which these models use"
            )
        return cls(
            size=size,
            mean=tuple(raw.get("image_mean", CLIP_MEAN)),
            std=tuple(raw.get("image_std", CLIP_STD)),
            aspect_ratio=aspect_ratio,
        )

    def to_config_dict(self) -> dict:
        """`preprocessor_config.json` content in the CLIP processor format the original code reads."""
        return {
            "crop_size": self.size,
            # crop_size == size: after "pad" the image is already
            # square, so CLIP's own processor crops nothing.
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_processor_type": "CLIPImageProcessor",
            "image_mean": list(self.mean),
            "image_std": list(self.std),
            "resample": 3,
            "size": self.size,
        }

    def save_pretrained(self, folder: str | Path) -> None:
        Path(folder, "preprocessor_config.json").write_text(
            json.dumps(self.to_config_dict(), indent=2) + "\n"
        )

    @property
    def background(self) -> tuple[int, int, int]:
        """Padding colour: the mean in 0..255, truncated as in the original."""
        # Truncated as the original's tuple(int(x * 255) for x in mean): (122, 116, 104) for CLIP.
        return tuple(int(m * 255) for m in self.mean)

    def square(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        if width == height:
            return image
        if self.aspect_ratio == "crop":
            return self.shortest_edge_crop(image)
        if self.aspect_ratio == "resize":
            side = max(width, height)
            # Squash to the long side here; preprocess then resizes the square to size×size.
            return image.resize((side, side), Image.Resampling.BICUBIC)
        side = max(width, height)
        # Mean-colour borders normalise to ≈ 0, so the padding
        # carries as little signal as possible (expand2square).
        canvas = Image.new("RGB", (side, side), self.background)
        # Centred; an odd leftover pixel goes to the right / bottom, as expand2square's floor division.
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        return canvas

    def shortest_edge_crop(self, image: Image.Image) -> Image.Image:
        """CLIPImageProcessor's resize + centre crop: shortest edge → size (long edge int(size·long/short),
        bicubic), then the centred size×size square (top/left offsets rounded down)."""
        width, height = image.size
        short, long = min(width, height), max(width, height)
        # int() truncates the long edge, as CLIPImageProcessor computes the output size.
        new_short, new_long = self.size, int(self.size * long / short)
        new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
        image = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
        top, left = (new_height - self.size) // 2, (new_width - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))

    def preprocess(self, source) -> torch.Tensor:
        """One image → [3, size, size] float32."""
        image = self.square(load_image(source))
        # After "pad" / "resize" the image is square but not
        # yet size×size: one bicubic resize brings it there.
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BICUBIC)
        # float32 in [0, 1], then per-channel (x − mean) / std over the last (channel) axis; HWC → CHW below.
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))

    def __call__(self, sources) -> torch.Tensor:
        """A list of images → [n, 3, size, size]."""
        if not isinstance(sources, (list, tuple)):
            sources = [sources]
        return torch.stack([self.preprocess(s) for s in sources])
