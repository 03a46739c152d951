"""Lists of image pairs to score or describe, and result files that a run can resume.

Pair lists (`read_pairs`):
- CSV in SPCD form, `image_a,image_b[,ΔV]` without header, or with a header naming `image_a`, `image_b` and
  optionally `delta_v` (or `dv`, `gt_score`);
- JSON in M-SPCD form: score records (`image: [a, b]`, optional `gt_score`, `id`) or depict records
  (`question_id`, `image: [a, b]`, …).
Every pair gets its 0-based `index` in the list; a malformed row names the file and line/record.

Result files (`ResultLog`, CSV or JSONL, one row per pair keyed by `pair_index`) are appended to and flushed as
results come, so an interrupted run loses nothing. On restart the rows already written are checked against the
pair list (a file written for another list is refused) and successful pairs are skipped; failed pairs are tried
again. `finalize()` rewrites the file in pair order with one row per pair. With `provenance`, the file must
have been made by the same producer (`cdreasoning.data.provenance`; `overwrite` discards one that was not); a
torn last row (a kill or a full disk during a write) is dropped and redone; a failed write stops the run with
one clear error and keeps the rows written before it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from cdreasoning.data.errors import DataError
from cdreasoning.data.provenance import claim_result_file, drop_torn_tail
from cdreasoning.errors import CDReasoningError


@dataclass(frozen=True)
class PairSpec:
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


class ResultLog:
    """Append-only per-pair results in CSV (fixed columns) or JSONL, resumable; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        pairs: list[PairSpec],
        fieldnames: list[str] | None = None,
        provenance: dict | None = None,
        overwrite: bool = False,
    ):
        self.path = Path(path)
        self.jsonl = self.path.suffix.lower() in (".jsonl", ".json")
        if not self.jsonl and not fieldnames:
            raise ValueError("a CSV result file needs its column names")
        self.fieldnames = ["pair_index", "image_a", "image_b", *(fieldnames or []), "error"]
        self.pairs = pairs
        self.rows: dict[int, dict] = {}
        self._broken = False
        if provenance is not None:
            claim_result_file(self.path, provenance, overwrite=overwrite)
        drop_torn_tail(self.path)
        if self.path.exists() and self.path.stat().st_size:
            self._load_existing()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", newline="", encoding="utf-8")
        self._writer = None
        if not self.jsonl:
            self._writer = csv.DictWriter(self._handle, fieldnames=self.fieldnames, lineterminator="\n")
            if self.path.stat().st_size == 0:
                self._writer.writeheader()
                self._handle.flush()

    def _load_existing(self) -> None:
        with self.path.open(newline="", encoding="utf-8") as handle:
            if self.jsonl:
                rows = []
                for line_no, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        # an interrupted write leaves a partial last line: drop only that
                        rest = handle.read()
                        if rest.strip():
                            raise DataError(f"{self.path}:{line_no}: not valid JSON") from None
                        break
            else:
                reader = csv.DictReader(handle)
                if reader.fieldnames != self.fieldnames:
                    raise DataError(
                        f"{self.path}: existing columns {reader.fieldnames} differ from {self.fieldnames}; "
                        "write to a new --out file"
                    )
                rows = list(reader)
        for row in rows:
            try:
                index = int(row["pair_index"])
                pair = self.pairs[index]
            except (KeyError, ValueError, IndexError):
                raise DataError(f"{self.path}: row {row!r} does not belong to this pair list") from None
            if (row.get("image_a"), row.get("image_b")) != (pair.image_a, pair.image_b):
                raise DataError(
                    f"{self.path}: pair_index {index} is {row.get('image_a')},{row.get('image_b')} there but "
                    f"{pair.image_a},{pair.image_b} in the pair list; it was written for another list "
                    "(use a new --out file)"
                )
            self.rows[index] = row

    def done(self, index: int) -> bool:
        """True when the pair already has a successful row."""
        row = self.rows.get(index)
        return row is not None and not row.get("error")

    def write(self, pair: PairSpec, values: dict, error: str | None = None) -> None:
        row = {
            "pair_index": pair.index,
            "image_a": pair.image_a,
            "image_b": pair.image_b,
            **values,
            "error": " ".join((error or "").split()),  # one line, so every row is one line
        }
        if self.jsonl:
            line = json.dumps(row) + "\n"
        else:
            buffer = io.StringIO()
            csv.DictWriter(buffer, fieldnames=self.fieldnames, lineterminator="\n").writerow(
                {k: row.get(k, "") for k in self.fieldnames}
            )
            line = buffer.getvalue()
        try:
            self._handle.write(line)  # one line per row: a torn write is a last line without its newline
            self._handle.flush()
        except OSError as exc:
            self._broken = True
            raise CDReasoningError(
                f"{self.path}: cannot write the row of pair {pair.index} ({exc.strerror or exc})",
                hint="free disk space (or fix the folder) and rerun: the rows written so far are kept, "
                "the torn one is redone",
            ) from exc
        self.rows[pair.index] = row

    def finalize(self) -> None:
        """Rewrite the file: one row per pair, in pair order (not after a failed write: the disk may be full)."""
        if self._broken:
            try:
                self._handle.close()
            except OSError:
                pass
            return
        self._handle.close()
        ordered = [self.rows[i] for i in sorted(self.rows)]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            if self.jsonl:
                for row in ordered:
                    handle.write(json.dumps(row) + "\n")
            else:
                writer = csv.DictWriter(handle, fieldnames=self.fieldnames, lineterminator="\n")
                writer.writeheader()
                for row in ordered:
                    writer.writerow({k: row.get(k, "") for k in self.fieldnames})
        tmp.replace(self.path)

    @property
    def failures(self) -> list[dict]:
        return [row for _, row in sorted(self.rows.items()) if row.get("error")]
