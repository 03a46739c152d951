"""SPCD image names and pair kinds.

SPCD names its images `I{scene}_{group}_{index}.png`: group 01 holds the six phone captures of a scene (not
pixel-aligned with each other: parallax, framing), groups 02-07 are edits of `I{scene}_01_01` (pixel-aligned
with it and with each other). A pair is *not aligned* exactly when both images are phone captures (group 01);
this reproduces the published test_aligned (3,980) / test_notaligned (1,995) split.

    from cdreasoning.data.spcd_names import is_pixel_aligned, spcd_alignment
    is_pixel_aligned("I0006_01_03.png", "I0006_02_01.png")   # True (an edit of the reference)
    spcd_alignment("a.png", "b.png")                         # None (not SPCD names: "all" only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

_NAME = re.compile(r"^I(?P<scene>\d+)_(?P<group>\d+)_(?P<index>\d+)\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class SpcdName:
    """The three numeric fields of an SPCD image name, as strings (leading zeros kept)."""

    scene: str
    group: str
    index: str


def parse_spcd_name(name: str) -> SpcdName:
    """Split an SPCD file name (directories ignored). Raises ValueError naming the file otherwise."""
    base = PurePath(name).name
    match = _NAME.match(base)
    if match is None:
        raise ValueError(f"{name!r} is not an SPCD image name (expected I{{scene}}_{{group}}_{{index}}.png)")
    return SpcdName(match["scene"], match["group"], match["index"])


def is_pixel_aligned(image_a: str, image_b: str) -> bool:
    """True unless both images are phone captures (group 01) of the scene."""
    return not (parse_spcd_name(image_a).group == "01" and parse_spcd_name(image_b).group == "01")


def spcd_alignment(image_a: str, image_b: str) -> bool | None:
    """`is_pixel_aligned` for reports: None when either name is not an SPCD name.

    Reports count such a pair in "all" only (and say how many); this is the one place that rule is written.
    """
    try:
        return is_pixel_aligned(image_a, image_b)
    except ValueError:
        return None
