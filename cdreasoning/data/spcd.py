"""Read SPCD pair lists: CSV rows `image_a,image_b,ΔV` with no header (the published split files).

    from cdreasoning.data import read_spcd_csv
    pairs = read_spcd_csv("data/test.csv")      # list[SpcdPair], in file order

Every row is checked: three fields, non-empty image names, a finite positive ΔV. A bad row raises `DataError`
naming the file and the 1-based line. Blank lines are errors too (they are never silently skipped).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from cdreasoning.data.spcd_names import is_pixel_aligned
from cdreasoning.errors import DataError


@dataclass(frozen=True)
class SpcdPair:
    """One rated pair. `line` is the 1-based line in the source file (for error messages)."""

    image_a: str
    image_b: str
    delta_v: float
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.image_a, self.image_b)

    @property
    def aligned(self) -> bool:
        """Pixel-aligned (an edit of the reference) unless both are phone captures; see data.spcd_names."""
        return is_pixel_aligned(self.image_a, self.image_b)


def read_spcd_csv(path: str | Path) -> list[SpcdPair]:
    """All rows of an SPCD CSV as `SpcdPair`s. Raises DataError on the first malformed row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: SPCD CSV not found")
    pairs: list[SpcdPair] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            where = f"{path}:{line_no}"
            if len(row) != 3:
                raise DataError(f"{where}: expected 3 fields 'image_a,image_b,ΔV', got {len(row)}: {row!r}")
            image_a, image_b, value = (field.strip() for field in row)
            if not image_a or not image_b:
                raise DataError(f"{where}: empty image name in {row!r}")
            try:
                delta_v = float(value)
            except ValueError:
                raise DataError(f"{where}: ΔV {value!r} is not a number") from None
            if not math.isfinite(delta_v) or delta_v <= 0:
                raise DataError(f"{where}: ΔV must be a finite positive number, got {value!r}")
            pairs.append(SpcdPair(image_a, image_b, delta_v, line_no))
    if not pairs:
        raise DataError(f"{path}: no rows")
    return pairs
