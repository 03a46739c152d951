"""An ISP-style renderer: one parameter per description attribute, applied to a photo (vectorised numpy).

    from cdreasoning.data.synth.isp import IspParams, render
    out = render(scene, IspParams(wb_temp=0.1, exposure=-0.3))   # scene, out: float32 sRGB [H, W, 3], 0..1

A look is the vector of eight signed parameters below (0 = neutral). The pipeline follows a camera ISP:

  linear light:  white balance  (log channel gains; temp = red↔blue, tint = green↔magenta, luminance kept)
                 exposure       (× 2^stops)
                 hue rotation   (about the grey axis, degrees)
                 saturation     (chroma around the luminance × e^saturation)
                 → clip to [0, 1] (highlights clip as on a sensor) → sRGB encoding
  encoded:       contrast       y = x + 2c·x(1−x)(2x−1)   S-curve around mid grey, monotone for −1 < c < 0.5
                 shadows        y = x + d·(1−x)^4         d > 0 lifts the blacks, d < 0 crushes them (clips)
                 highlights     y = x − h·x^4             h > 0 compresses the whites, h < 0 clips them
                 → clip to [0, 1]

Because every image of a scene is `render(scene, look)`, the difference between two images is the difference
of their looks, attribute by attribute (`attribute_magnitudes`), which gives the depict ground truth
(`severities_from_magnitudes`, thresholds in SEVERITY_THRESHOLDS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from cdreasoning.colour import linear_to_srgb, srgb_to_linear
from cdreasoning.constants import ATTRIBUTES, SEVERITIES

_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec.709 / sRGB luminance weights


@dataclass(frozen=True)
class IspParams:
    """A look: signed, 0 = neutral. Units in brackets; attribute each drives in parentheses."""

    wb_temp: float = 0.0  # [log gain] red up / blue down when > 0            (white_balance)
    wb_tint: float = 0.0  # [log gain] green up / magenta down when > 0       (white_balance)
    contrast: float = 0.0  # [c of the S-curve], keep in (−0.9, 0.45)          (brightness_contrast)
    saturation: float = 0.0  # [log chroma gain]                                 (color_contrast)
    exposure: float = 0.0  # [stops]                                           (overall_brightness)
    hue: float = 0.0  # [degrees of rotation about grey]                  (overall_color)
    shadows: float = 0.0  # [d of the toe curve], keep in (−0.3, 0.24)        (dark_details)
    highlights: float = 0.0  # [h of the shoulder curve], keep in (−0.3, 0.24)   (bright_details)

    def __add__(self, other: IspParams) -> IspParams:
        return IspParams(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: IspParams) -> IspParams:
        return IspParams(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        return {f.name: round(getattr(self, f.name), 6) for f in fields(self)}


# Per attribute: magnitude below the first bound = slight, below the second = moderate, else severe. An
# attribute that was not edited therefore reads "slight" (M-SPCD has no "none").
SEVERITY_THRESHOLDS: dict[str, tuple[float, float]] = {
    "white_balance": (0.07, 0.17),  # log-gain distance sqrt(Δtemp² + Δtint²)
    "brightness_contrast": (0.10, 0.24),  # |Δcontrast|
    "color_contrast": (0.15, 0.38),  # |Δsaturation| (log chroma gain; 0.38 ≈ ×1.46)
    "overall_brightness": (0.22, 0.55),  # |Δexposure| in stops
    "overall_color": (5.0, 12.0),  # |Δhue| in degrees
    "dark_details": (0.05, 0.12),  # |Δshadows|
    "bright_details": (0.06, 0.14),  # |Δhighlights|
}


def attribute_magnitudes(delta: IspParams) -> dict[str, float]:
    """How far two looks differ on each attribute (`delta` = look_a − look_b), in the units above."""
    return {
        "white_balance": math.hypot(delta.wb_temp, delta.wb_tint),
        "brightness_contrast": abs(delta.contrast),
        "color_contrast": abs(delta.saturation),
        "overall_brightness": abs(delta.exposure),
        "overall_color": abs(delta.hue),
        "dark_details": abs(delta.shadows),
        "bright_details": abs(delta.highlights),
    }


def severities_from_magnitudes(magnitudes: dict[str, float]) -> dict[str, str]:
    """slight / moderate / severe per attribute by SEVERITY_THRESHOLDS."""
    out = {}
    for attribute in ATTRIBUTES:
        low, high = SEVERITY_THRESHOLDS[attribute]
        value = magnitudes[attribute]
        out[attribute] = SEVERITIES[0] if value < low else SEVERITIES[1] if value < high else SEVERITIES[2]
    return out


def _hue_matrix(degrees: float) -> np.ndarray:
    """3×3 rotation about the grey axis (1, 1, 1)/√3 (Rodrigues)."""
    theta = math.radians(degrees)
    k = np.full(3, 1 / math.sqrt(3))
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return (
        np.eye(3) * math.cos(theta) + math.sin(theta) * cross + (1 - math.cos(theta)) * np.outer(k, k)
    ).astype(np.float32)


def _wb_gains(temp: float, tint: float) -> np.ndarray:
    gains = np.exp(np.array([temp / 2 - tint / 3, 2 * tint / 3, -temp / 2 - tint / 3], dtype=np.float64))
    return (gains / float(_LUMA @ gains)).astype(np.float32)  # keep the luminance of grey unchanged


def render_linear_stage(linear: np.ndarray, look: IspParams) -> np.ndarray:
    """White balance, exposure, hue, saturation on linear RGB [..., 3]; returns linear RGB (unclipped)."""
    gains = _wb_gains(look.wb_temp, look.wb_tint) * np.float32(2.0**look.exposure)
    matrix = _hue_matrix(look.hue) * gains[None, :]  # gains first, then the rotation
    out = linear @ matrix.T
    if look.saturation:
        luma = out @ _LUMA
        out = luma[..., None] + (out - luma[..., None]) * np.float32(math.exp(look.saturation))
    return out


def tone_curve(x: np.ndarray, look: IspParams) -> np.ndarray:
    """Contrast, shadow and highlight curves on encoded values in [0, 1]."""
    y = x
    if look.contrast:
        y = y + np.float32(2 * look.contrast) * y * (1 - y) * (2 * y - 1)
    if look.shadows:
        y = y + np.float32(look.shadows) * (1 - np.clip(y, 0, 1)) ** 4
    if look.highlights:
        y = y - np.float32(look.highlights) * np.clip(y, 0, 1) ** 4
    return np.clip(y, 0.0, 1.0)


def render(scene: np.ndarray, look: IspParams) -> np.ndarray:
    """The scene (float32 sRGB [H, W, 3] in [0, 1]) as captured/edited with `look` (same shape and range)."""
    return render_linear(srgb_to_linear(scene), look)


def render_linear(linear_scene: np.ndarray, look: IspParams) -> np.ndarray:
    """`render` for a scene already in linear RGB (linearise once when rendering many looks of one scene)."""
    encoded = linear_to_srgb(render_linear_stage(linear_scene, look))
    return tone_curve(encoded, look).astype(np.float32)
