"""The per-pair result cache of long scoring runs (`eval baseline`, `cdflow test`): resumable by construction.

    cache = read_pair_cache(path, "baseline")      # {(image_a, image_b): ΔE} of the pairs already computed
    ... append rows `image_a,image_b,ΔE` (CACHE_FIELDS) as each batch is done, flushing after it ...

A run killed mid-write leaves a torn last line (dropped, and the file truncated to its last full row) or, before
the header was written, an empty file (the header is written again). Any other malformed row, or a file that
is not such a cache, is an error naming the file and line: results are never silently discarded.
"""

from __future__ import annotations

import csv
from pathlib import Path

from cdreasoning.data.errors import DataError

__all__ = ["CACHE_FIELDS", "read_pair_cache"]

CACHE_FIELDS = ("image_a", "image_b", "delta_e")


def read_pair_cache(path: str | Path, kind: str) -> dict[tuple[str, str], float]:
    """The cached values of `path` (empty when it does not exist); `kind` names the run in errors."""
    path = Path(path)
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    if not text.strip():  # killed before the header was written
        path.write_text(",".join(CACHE_FIELDS) + "\n", encoding="utf-8")
        return {}
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    if not lines or tuple(lines[0].split(",")) != CACHE_FIELDS:
        raise DataError(f"{path}:1: not a {kind} cache (expected header {','.join(CACHE_FIELDS)})")
    cache = {}
    for line_no, row in enumerate(csv.reader(lines[1:]), start=2):
        try:
            image_a, image_b, value = row
            cache[(image_a, image_b)] = float(value)
        except ValueError:
            raise DataError(
                f"{path}:{line_no}: bad cache row {row!r}; delete the file to recompute"
            ) from None
    return cache
