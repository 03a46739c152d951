"""The one resumable per-pair result store: rows appended and flushed as results come, so a killed run loses
nothing and a rerun skips what is done.

Two keyings of the same file machinery (`_load_rows`: header check, torn-tail repair, errors naming file:line):

- `ResultLog` (`cdreasoning score|describe`, `eval score|describe`): CSV (fixed columns) or JSONL, one row per
  pair of a pair list, keyed by `pair_index`. On restart the rows already written are checked against the pair
  list (a file written for another list is refused) and successful pairs are skipped; failed pairs are tried
  again. `finalize()` rewrites the file in pair order with one row per pair.

      log = ResultLog("scores.csv", pairs, ["score", "level"])
      if not log.done(pair.index): log.write(pair, {"score": 2.5, "level": "moderate"})
      log.finalize()

- `read_pair_cache` / `PairCache` (`eval baseline`, `cdflow test`): CSV `image_a,image_b,delta_e`, keyed by the
  image names, so a pair listed twice is computed once.

      cache = read_pair_cache(path, "baseline")      # {(image_a, image_b): ΔE} of the pairs already computed
      with PairCache(path) as store: store.add_many([(("a.png", "b.png"), 3.2)])  # appended, flushed

`ResultLog` files carry their provenance (`cdreasoning.data.provenance`): resuming a file made by another model
or settings is refused naming the difference (`overwrite` discards it). Every row is one line; a failed write
(a full disk) stops the run with one clear error and keeps the rows written before it.

A run killed mid-write (or a full disk) leaves a torn last line (dropped with a one-line notice, and the file
truncated to its last full row, so the next append starts on a fresh line) or, before the header was written, an empty file (the header is written
again). Any other malformed row, or a file of another kind, is a `DataError` naming the file and line:
results are never silently discarded.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from cdreasoning.data.pair_lists import PairSpec
from cdreasoning.data.provenance import claim_result_file, drop_torn_tail
from cdreasoning.errors import CDReasoningError, DataError

__all__ = ["CACHE_FIELDS", "PairCache", "ResultLog", "read_pair_cache"]

CACHE_FIELDS = ("image_a", "image_b", "delta_e")


def _complete_text(path: Path) -> str:
    """The file's text up to its last newline; a torn tail (a write cut short) is cut off the file too, with a
    one-line notice."""
    drop_torn_tail(path)
    return path.read_text(encoding="utf-8")


def _load_rows(path: Path, fieldnames: list[str] | None, kind: str) -> list[dict]:
    """The complete rows of a CSV (with exactly the header `fieldnames`) or, with `fieldnames=None`, a JSONL
    file. An empty file gets its CSV header back; any malformed complete row raises DataError naming the line."""
    # The torn tail is cut first, so every line parsed below is one a write completed.
    text = _complete_text(path)
    if fieldnames is None:
        rows = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise DataError(f"{path}:{line_no}: not valid JSON; delete the file to recompute") from None
        return rows
    if not text.strip():  # killed before the header was written
        path.write_text(",".join(fieldnames) + "\n", encoding="utf-8")
        return []
    # newline="": let csv handle line ends itself, as its documentation requires for quoted fields.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames != list(fieldnames):
        raise DataError(
            f"{path}:1: not a {kind} file: columns {reader.fieldnames} differ from {list(fieldnames)}; "
            "write to a new file"
        )
    rows = []
    for row in reader:
        # DictReader files surplus fields under the key None and
        # fills missing ones with None: a row of the wrong width.
        if None in row or any(value is None for value in row.values()):
            raise DataError(f"{path}:{reader.line_num}: bad row {row!r}; delete the file to recompute")
        rows.append(row)
    return rows


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
        """provenance: what produces the rows (`claim_result_file`); overwrite: discard a file made by another."""
        self.path = Path(path)
        # .json is written as JSON Lines too (one object per line), so it appends and resumes like .jsonl.
        self.jsonl = self.path.suffix.lower() in (".jsonl", ".json")
        if not self.jsonl and not fieldnames:
            raise ValueError("a CSV result file needs its column names")
        # pair_index / image_a / image_b tie the row to the pair list; "error" is empty on success.
        self.fieldnames = ["pair_index", "image_a", "image_b", *(fieldnames or []), "error"]
        self.pairs = pairs
        self.rows: dict[int, dict] = {}
        self._broken = False
        if provenance is not None:
            # Before reading any row: a file made by another
            # model or settings is refused (or discarded) first.
            claim_result_file(self.path, provenance, overwrite=overwrite)
        if self.path.exists() and self.path.stat().st_size:
            self._load_existing()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Append mode: a resumed run adds its rows after the kept ones; finalize() puts them in order.
        self._handle = self.path.open("a", newline="", encoding="utf-8")
        self._writer = None
        if not self.jsonl:
            self._writer = csv.DictWriter(self._handle, fieldnames=self.fieldnames, lineterminator="\n")
            # A new (or emptied) file gets its header; a resumed one already has it.
            if self.path.stat().st_size == 0:
                self._writer.writeheader()
                self._handle.flush()

    def _load_existing(self) -> None:
        rows = _load_rows(self.path, None if self.jsonl else self.fieldnames, "result")
        for row in rows:
            try:
                index = int(row["pair_index"])
                pair = self.pairs[index]
            except (KeyError, ValueError, IndexError, TypeError):
                raise DataError(f"{self.path}: row {row!r} does not belong to this pair list") from None
            # Same index but other images: the file was written for
            # another pair list, and mixing them would be silent.
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
        # Failed rows are not "done": a rerun tries those pairs again, and the new row replaces the old.
        return row is not None and not row.get("error")

    def write(self, pair: PairSpec, values: dict, error: str | None = None) -> None:
        """Append the pair's row (its values, or the error that stopped it) and flush it to disk."""
        row = {
            "pair_index": pair.index,
            "image_a": pair.image_a,
            "image_b": pair.image_b,
            **values,
            "error": " ".join((error or "").split()),  # one line, so that every row is one line
        }
        if self.jsonl:
            line = json.dumps(row) + "\n"
        else:
            # The row is formatted into a string first and written
            # with one call, so a failure tears at most this row.
            buffer = io.StringIO()
            csv.DictWriter(buffer, fieldnames=self.fieldnames, lineterminator="\n").writerow(
                {k: row.get(k, "") for k in self.fieldnames}
            )
            line = buffer.getvalue()
        try:
            self._handle.write(line)  # a torn write is a last line without its newline
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
        # After a failed write the disk may be full: a rewrite could lose the rows that did reach it.
        if self._broken:
            try:
                self._handle.close()
            except OSError:
                pass
            return
        self._handle.close()
        # A retried pair's later row replaced its earlier one (a dict by index): one row per pair remains.
        ordered = [self.rows[i] for i in sorted(self.rows)]
        # A temporary file renamed over the original: the
        # rename is atomic, so a crash here keeps the old file.
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
        """The rows whose pair failed (non-empty `error`), in pair order."""
        return [row for _, row in sorted(self.rows.items()) if row.get("error")]


def read_pair_cache(path: str | Path, kind: str) -> dict[tuple[str, str], float]:
    """The cached values of `path` (empty when it does not exist); `kind` names the run in errors."""
    path = Path(path)
    if not path.is_file():
        return {}
    rows = _load_rows(path, list(CACHE_FIELDS), f"{kind} cache")
    cache = {}
    # Line numbers start at 2: line 1 is the header.
    for line_no, row in enumerate(rows, start=2):
        try:
            cache[(row["image_a"], row["image_b"])] = float(row["delta_e"])
        except ValueError:
            raise DataError(
                f"{path}:{line_no}: bad cache row {list(row.values())!r}; delete the file to recompute"
            ) from None
    return cache


class PairCache:
    """Appends `image_a,image_b,delta_e` rows to a pair cache (header written if the file is new or empty),
    flushing after each batch (`add_many`). Use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.is_file() or self.path.stat().st_size == 0:
            self.path.write_text(",".join(CACHE_FIELDS) + "\n", encoding="utf-8")
        self._handle = None
        self._writer = None

    def __enter__(self):
        if self._handle is None:
            self._handle = self.path.open("a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def add_many(self, items: list[tuple[tuple[str, str], float]]) -> None:
        """Append `((image_a, image_b), value)` rows and flush them to disk."""
        for (image_a, image_b), value in items:
            # repr keeps every digit of the float, so a resumed run reports exactly what a fresh one would
            self._writer.writerow([image_a, image_b, repr(float(value))])
        self._handle.flush()

    def add(self, key: tuple[str, str], value: float) -> None:
        """Append one row and flush it."""
        self.add_many([(key, value)])
