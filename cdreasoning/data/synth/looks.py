"""Seeded looks of the synthetic set: each phone's own mild ISP, and the edits of groups 02-07.

    from cdreasoning.data.synth.looks import phone_look, edit_look, clamp_look, EDIT_GROUPS
    look = phone_look(rng)                                  # IspParams, every parameter mildly off neutral
    edited = clamp_look(reference + edit_look(4, rng))      # a saturation edit of the reference capture

Edit strengths are drawn relative to the severity thresholds of each attribute (isp.SEVERITY_THRESHOLDS): the
edited attribute moves by u · (upper threshold) with u ~ U(0.3, 1.5) and a random sign, so an edit is slight
(≈10 %), moderate (≈45 %) or severe (≈45 %) on its own attribute; the other attributes stay put (slight).
The groups mirror the kinds of SPCD edits (Photoshop ISP-style white balance, tone mapping / gamma, colour
correction, wrong colour profiles, phone filters):

  02 white balance · 03 tone (contrast or exposure, the other a little) · 04 saturation ·
  05 colour profile (hue rotation, a little saturation) · 06 shadows / highlights ·
  07 filter (three attributes at once)
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from cdreasoning.data.synth.isp import SEVERITY_THRESHOLDS, IspParams

EDIT_GROUPS = {
    2: "white balance",
    3: "tone curve: contrast or exposure",
    4: "saturation (colour contrast)",
    5: "colour profile: hue rotation",
    6: "shadows / highlights",
    7: "filter: three attributes at once",
}
# Each phone's look: every parameter ~ U(−1, 1) · spread · (lower threshold of its attribute). Phones differ
# mostly in white balance and tone, less in hue (a rotated hue reads as a wrong colour profile, not a phone).
PHONE_SPREAD = {
    "wb_temp": 1.3,
    "wb_tint": 0.8,
    "contrast": 1.3,
    "saturation": 1.3,
    "exposure": 1.3,
    "hue": 0.6,
    "shadows": 1.3,
    "highlights": 1.3,
}
# Allowed range of each parameter of a final look (monotone tone curves, no absurd casts).
LIMITS = {
    "wb_temp": (-0.45, 0.45),
    "wb_tint": (-0.3, 0.3),
    "contrast": (-0.8, 0.42),
    "saturation": (-0.9, 0.9),
    "exposure": (-1.5, 1.5),
    "hue": (-35.0, 35.0),
    "shadows": (-0.3, 0.22),
    "highlights": (-0.3, 0.22),
}
# parameter → the attribute whose thresholds scale it
_ATTRIBUTE_OF = {
    "wb_temp": "white_balance",
    "wb_tint": "white_balance",
    "contrast": "brightness_contrast",
    "saturation": "color_contrast",
    "exposure": "overall_brightness",
    "hue": "overall_color",
    "shadows": "dark_details",
    "highlights": "bright_details",
}


def _signed(rng: random.Random) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _uniform(rng: random.Random, low: float, high: float) -> float:
    return low + (high - low) * rng.random()


def phone_look(rng: random.Random) -> IspParams:
    """A phone's own rendering: all parameters mildly off neutral."""
    values = {}
    for name, attribute in _ATTRIBUTE_OF.items():
        low = SEVERITY_THRESHOLDS[attribute][0]
        scale = PHONE_SPREAD[name] * low
        values[name] = _uniform(rng, -1.0, 1.0) * scale
    return IspParams(**values)


def _strength(rng: random.Random, attribute: str, low: float = 0.3, high: float = 1.5) -> float:
    """A signed edit strength u · (upper threshold), u ~ U(low, high)."""
    return _signed(rng) * _uniform(rng, low, high) * SEVERITY_THRESHOLDS[attribute][1]


def _edit_parameter(name: str, rng: random.Random, low: float = 0.3, high: float = 1.5) -> dict[str, float]:
    attribute = _ATTRIBUTE_OF[name]
    if attribute == "white_balance":  # mostly warm/cool, some green/magenta
        magnitude = abs(_strength(rng, attribute, low, high))
        angle = _uniform(rng, -0.6, 0.6) + (math.pi if rng.random() < 0.5 else 0.0)
        return {"wb_temp": magnitude * math.cos(angle), "wb_tint": magnitude * math.sin(angle)}
    return {name: _strength(rng, attribute, low, high)}


def edit_look(group: int, rng: random.Random) -> IspParams:
    """The change an edit of group `group` (2..7) makes to the reference capture's look."""
    delta: dict[str, float] = {}
    if group == 2:
        delta.update(_edit_parameter("wb_temp", rng))
    elif group == 3:
        main, other = ("contrast", "exposure") if rng.random() < 0.5 else ("exposure", "contrast")
        delta.update(_edit_parameter(main, rng))
        delta.update(_edit_parameter(other, rng, 0.0, 0.35))
    elif group == 4:
        delta.update(_edit_parameter("saturation", rng))
    elif group == 5:
        delta.update(_edit_parameter("hue", rng))
        delta.update(_edit_parameter("saturation", rng, 0.0, 0.3))
    elif group == 6:
        main, other = ("shadows", "highlights") if rng.random() < 0.5 else ("highlights", "shadows")
        delta.update(_edit_parameter(main, rng))
        delta.update(_edit_parameter(other, rng, 0.0, 0.6))
    elif group == 7:
        names = ["wb_temp", "contrast", "saturation", "exposure", "hue", "shadows", "highlights"]
        for _ in range(3):
            name = names.pop(min(int(rng.random() * len(names)), len(names) - 1))
            delta.update(_edit_parameter(name, rng, 0.3, 1.0))
    else:
        raise ValueError(f"edit groups are 2..7, got {group}")
    return IspParams(**delta)


def clamp_look(look: IspParams) -> IspParams:
    """`look` with each parameter inside LIMITS."""
    return replace(look, **{name: min(max(getattr(look, name), lo), hi) for name, (lo, hi) in LIMITS.items()})
