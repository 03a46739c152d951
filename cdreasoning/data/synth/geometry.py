"""Small geometric differences between two phones' captures (parallax, framing): shift, rotation, zoom.

    from cdreasoning.data.synth.geometry import Framing, frame
    view = frame(canvas_image, Framing(dx=3.1, dy=-2.0, degrees=1.2, scale=1.02), size=256)   # [256, 256, 3]

Every image is rendered on a canvas larger than the output (a margin on each side) and then framed: the
reference phone takes the centre crop (`Framing()`), other phones take a rotated / scaled / shifted crop. The
margin is large enough for the strongest framing `random_framing` draws, so no border is ever invented.
Sampling is bilinear (scipy.ndimage.map_coordinates, order 1), vectorised over the image.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

# Strongest framing differences drawn, as fractions of the output size / degrees.
MAX_SHIFT = 0.025
MAX_DEGREES = 2.0
MAX_ZOOM = 0.03
MARGIN = 0.09  # canvas margin per side, fraction of the output size (covers the three above at the corners)


def canvas_size(size: int) -> int:
    """Side of the canvas images are rendered on before framing."""
    return size + 2 * math.ceil(MARGIN * size)


@dataclass(frozen=True)
class Framing:
    """Where a phone's view lies on the canvas: shift in output pixels, rotation in degrees, zoom factor."""

    dx: float = 0.0
    dy: float = 0.0
    degrees: float = 0.0
    scale: float = 1.0

    @property
    def is_identity(self) -> bool:
        return self.dx == 0 and self.dy == 0 and self.degrees == 0 and self.scale == 1

    def as_dict(self) -> dict[str, float]:
        return {
            "dx": round(self.dx, 4),
            "dy": round(self.dy, 4),
            "degrees": round(self.degrees, 4),
            "scale": round(self.scale, 6),
        }


def random_framing(rng: random.Random, size: int) -> Framing:
    """A phone's framing relative to the reference phone (uniform within the MAX_* bounds)."""

    def uniform(bound: float) -> float:
        return (2 * rng.random() - 1) * bound

    return Framing(
        uniform(MAX_SHIFT * size), uniform(MAX_SHIFT * size), uniform(MAX_DEGREES), 1.0 + uniform(MAX_ZOOM)
    )


def frame(canvas: np.ndarray, framing: Framing, size: int) -> np.ndarray:
    """The size × size view of `canvas` [C, C, 3] under `framing` (centre crop when it is the identity)."""
    side = canvas.shape[0]
    offset = (side - size) // 2
    if framing.is_identity:
        return canvas[offset : offset + size, offset : offset + size].copy()
    from scipy.ndimage import map_coordinates

    # Output pixel (y, x) relative to the output centre → canvas position: rotate, scale, shift, recentre.
    centre_out = (size - 1) / 2
    centre_in = (side - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    ys -= centre_out
    xs -= centre_out
    theta = math.radians(framing.degrees)
    cos, sin = math.cos(theta) / framing.scale, math.sin(theta) / framing.scale
    src_x = cos * xs - sin * ys + centre_in + framing.dx
    src_y = sin * xs + cos * ys + centre_in + framing.dy
    coords = np.stack([src_y, src_x])
    out = np.empty((size, size, canvas.shape[2]), dtype=np.float32)
    for channel in range(canvas.shape[2]):
        out[..., channel] = map_coordinates(canvas[..., channel], coords, order=1, mode="nearest")
    return out
