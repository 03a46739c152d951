"""Where a result file came from, and what survives a crash in the middle of writing it.

    producer = {"model": weights_identity("checkpoints/cd"), "question": "…", "data": data_identity("test.csv")}
    claim_result_file("runs/eval/cd/score/scores.csv", producer, overwrite=False)
    dropped = drop_torn_tail("runs/eval/cd/score/scores.csv")

**Provenance.** Every resumable result file (`eval score`, `eval describe`, `score --out`, `describe --out`)
has a sidecar `<file>.provenance.json` saying what produced it: the model folder and its weights (size and
modification time of every weight file, so retraining into the same folder is noticed without reading
gigabytes), the prompt settings, the levels and the data file (path and SHA-256). Resuming into a file made
by a different producer would mix two runs in one table (and the report would name only the new one), so
`claim_result_file` refuses, naming each difference, unless `--overwrite` (which discards the old rows) — or
write to a new `--out`. A result file without a sidecar (from an older version) is refused the same way.

**Torn rows.** Rows are appended and flushed one at a time, each one line. A kill or a full disk in the middle
of a write leaves a last line without its newline: `drop_torn_tail` cuts the file back to its last complete
line (with a one-line notice), so the rows before are kept and the torn one is redone.

This module only reads files (no torch), so it sits in the data layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cdreasoning.errors import DataError

__all__ = [
    "SIDECAR_SUFFIX",
    "claim_result_file",
    "data_identity",
    "describe_differences",
    "drop_torn_tail",
    "sidecar_path",
    "weights_identity",
]

SIDECAR_SUFFIX = ".provenance.json"
FORMAT = "cdreasoning.provenance/1"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_SHOWN = 160  # longest value quoted in a difference


def sidecar_path(result: str | Path) -> Path:
    result = Path(result)
    return result.with_name(result.name + SIDECAR_SUFFIX)


def _modified(path: Path) -> str:
    # UTC with microseconds: a rewrite within the same second still changes the identity.
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="microseconds")


def weights_identity(folder: str | Path) -> dict[str, Any]:
    """The model folder (resolved) and, for each weight file and config.json: size in bytes and modification
    time. Cheap (no file is read) and changes whenever the weights are written again."""
    folder = Path(folder)
    files = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and (path.suffix in _WEIGHT_SUFFIXES or path.name.endswith(".index.json")):
                # Size and mtime, not a hash: hashing gigabytes of weights on every resume would take minutes.
                files[path.name] = f"{path.stat().st_size} bytes, modified {_modified(path)}"
        if (folder / "config.json").is_file():
            files["config.json"] = f"{(folder / 'config.json').stat().st_size} bytes"
    return {"folder": str(folder.resolve()), "files": files}


def data_identity(path: str | Path) -> dict[str, str]:
    """The data file (resolved path) and the SHA-256 of its content."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        # 1 MiB blocks: a large data file is hashed without reading it into memory.
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path.resolve()), "sha256": digest.hexdigest()}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            # Dotted keys ("levels.words"), so a difference names the exact nested setting.
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _shown(value: Any) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def describe_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`key: old → new` for every (nested) key whose value differs."""
    a, b = _flatten(old), _flatten(new)
    return [
        f"{key}: {_shown(a.get(key))} → {_shown(b.get(key))}"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _write_sidecar(result: Path, producer: dict[str, Any]) -> None:
    side = sidecar_path(result)
    side.parent.mkdir(parents=True, exist_ok=True)
    # Write, then rename: a crash never leaves a half-written record that would block resuming.
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "producer": producer}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(side)


def _read_sidecar(side: Path) -> dict[str, Any]:
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{side}: unreadable provenance record ({exc})", hint="delete it, or pass --overwrite"
        ) from None
    if (
        not isinstance(record, dict)
        or record.get("format") != FORMAT
        or not isinstance(record.get("producer"), dict)
    ):
        raise DataError(f"{side}: not a {FORMAT} record", hint="delete it, or pass --overwrite")
    return record["producer"]


def claim_result_file(result: str | Path, producer: dict[str, Any], *, overwrite: bool = False) -> None:
    """Make `result` this producer's: record the producer beside a new file; accept an existing file only when
    its record is the same producer; otherwise refuse naming the differences (or, with `overwrite`, delete it)."""
    result = Path(result)
    producer = json.loads(json.dumps(producer))  # as it reads back (tuples → lists)
    side = sidecar_path(result)
    if result.is_file() and result.stat().st_size > 0:
        previous = _read_sidecar(side) if side.is_file() else None
        # Any difference refuses: two producers' rows in one table would be reported under the new one's name.
        if previous != producer:
            if previous is None:
                reason = f"it has no provenance record ({side.name}; written by an older version?)"
            else:
                reason = "made by a different model or settings: " + "; ".join(
                    describe_differences(previous, producer)
                )
            if not overwrite:
                raise DataError(
                    f"{result}: refusing to resume, {reason}",
                    hint="pass --overwrite to discard its rows, or write to a new --out",
                )
            print(f"--overwrite: discarding {result} ({reason})", file=sys.stderr)
            # The old rows go; a fresh sidecar is written below for the new producer.
            result.unlink()
        else:
            # Same producer: resume, the sidecar is already right.
            return
    _write_sidecar(result, producer)


def drop_torn_tail(path: str | Path) -> int:
    """Cut `path` back to its last complete line when its last line has no newline (a write interrupted by a
    kill or a full disk). Prints a one-line notice; returns the number of bytes dropped (0: nothing torn)."""
    path = Path(path)
    if not path.is_file():
        return 0
    # Binary mode: offsets are bytes, and a torn UTF-8 sequence must not fail decoding.
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        # Every complete write ends with "\n": only a missing final newline means a torn row.
        if handle.read(1) == b"\n":
            return 0
        # Backwards in 64 KiB blocks: a long torn row is found without reading the whole file.
        block = min(size, 1 << 16)
        end = size
        keep = 0
        while end > 0:  # find the last newline, reading backwards
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
        # keep = 0 when there is no newline at all: the file held one torn row (or a torn header) only.
        handle.truncate(keep)
    dropped = size - keep
    print(
        f"{path}: dropped a torn last row ({dropped} bytes, from an interrupted write); it will be redone",
        file=sys.stderr,
    )
    return dropped
