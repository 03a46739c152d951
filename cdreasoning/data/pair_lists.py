"""Lists of image pairs to score or describe (`read_pairs`): one `PairSpec` per pair, in file order.

- CSV in SPCD form, `image_a,image_b[,ΔV]` without header, or with a header naming `image_a`, `image_b` and
  optionally `delta_v` (or `dv`, `gt_score`);
- JSON in M-SPCD form: score records (`image: [a, b]`, optional `gt_score`, `id`) or depict records
  (`question_id`, `image: [a, b]`, …).

Every pair gets its 0-based `index` in the list; a malformed row raises `DataError` naming the file and
line/record. Results per pair go to a `cdreasoning.data.result_store.ResultLog`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from cdreasoning.errors import DataError

__all__ = ["PairSpec", "read_pairs"]


@dataclass(frozen=True)
class PairSpec:
    """One pair of a pair list: its 0-based `index`, the two image names, the human ΔV if the list has one."""

    index: int
    image_a: str
    image_b: str
    delta_v: float | None = None
    record_id: str | None = None
    source: str = ""  # "file:line" or "file#record", for messages


_DV_COLUMNS = ("delta_v", "dv", "gt_score", "score")


def _float(value: str, where: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{where}: ΔV {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: ΔV {value!r} is not finite")
    return number


def _read_csv(path: Path) -> list[PairSpec]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{path}: no pairs")
    header = [c.strip().lower() for c in rows[0]]
    start, columns = 0, None
    if "image_a" in header and "image_b" in header:
        start = 1
        dv_column = next((header.index(c) for c in _DV_COLUMNS if c in header), None)
        columns = (header.index("image_a"), header.index("image_b"), dv_column)
    pairs = []
    for line, row in enumerate(rows[start:], start=start + 1):
        where = f"{path}:{line}"
        if columns is None:
            if len(row) not in (2, 3):
                raise DataError(f"{where}: expected 'image_a,image_b[,ΔV]', got {len(row)} fields: {row!r}")
            a, b = row[0].strip(), row[1].strip()
            dv = _float(row[2], where) if len(row) == 3 else None
        else:
            if len(row) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields like the header, got {len(row)}")
            a, b = row[columns[0]].strip(), row[columns[1]].strip()
            dv = _float(row[columns[2]], where) if columns[2] is not None else None
        if not a or not b:
            raise DataError(f"{where}: empty image name in {row!r}")
        pairs.append(PairSpec(len(pairs), a, b, dv, None, where))
    if not pairs:
        raise DataError(f"{path}: no pairs")
    return pairs


def _read_json(path: Path) -> list[PairSpec]:
    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(records, list) or not records:
        raise DataError(f"{path}: expected a non-empty JSON list of records")
    pairs = []
    for number, record in enumerate(records):
        rid = record.get("id", record.get("question_id")) if isinstance(record, dict) else None
        where = f"{path}#record {number}" + (f" (id {rid})" if rid is not None else "")
        if not isinstance(record, dict):
            raise DataError(f"{where}: a record must be an object")
        images = record.get("image")
        if not (
            isinstance(images, list) and len(images) == 2 and all(isinstance(i, str) and i for i in images)
        ):
            raise DataError(f"{where}: 'image' must be a list of two image names, got {images!r}")
        dv = _float(record.get("gt_score"), where) if "gt_score" in record else None
        pairs.append(PairSpec(number, images[0], images[1], dv, None if rid is None else str(rid), where))
    return pairs


def read_pairs(path: str | Path) -> list[PairSpec]:
    """The pairs of a CSV or JSON pair list (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pair list not found")
    return _read_json(path) if path.suffix.lower() == ".json" else _read_csv(path)
