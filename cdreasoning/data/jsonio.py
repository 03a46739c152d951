"""JSON helpers of the data tools: read a JSON list with a clear error, write deterministic JSON atomically.

Every JSON file the data tools write goes through `write_json`: two-space indentation, keys in insertion
order, UTF-8, a trailing newline, written to a temporary file and renamed into place (an interrupted run never
leaves a half-written file behind). The same records therefore always give byte-identical files.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cdreasoning.errors import DataError


def load_json_list(path: str | Path) -> list[Any]:
    """The top-level list of a JSON file. DataError when the file is missing, not JSON, or not a list."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: JSON file not found")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from None
    if not isinstance(data, list):
        raise DataError(
            f"{path}: expected a JSON list of records at the top level, got {type(data).__name__}"
        )
    return data


def dumps_json(data: Any) -> str:
    """The canonical text of `data` (indent 2, non-ASCII kept, trailing newline)."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder, then rename it into place."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, payload: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(payload)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as canonical JSON (see `dumps_json`), atomically."""
    return write_text_atomic(path, dumps_json(data))


def dumps_records(records) -> str:
    """The canonical JSON text of conversation records (anything with `to_dict()`), as one list."""
    return dumps_json([record.to_dict() for record in records])


def write_records(path: str | Path, records) -> Path:
    """Write conversation records (see `dumps_records`) to `path`, atomically."""
    return write_text_atomic(path, dumps_records(records))
