"""The up-front data check of `cdreasoning train`: every record and image examined before step 0.

`train` reads images lazily, so without this a bad image, a duplicate id or an unknown level word would stop
a run mid-epoch (or train on it silently). Before the first step, each `--data_path` file gets exactly the
checks of `cdreasoning data check` (`cdreasoning.data.check_dataset`: record structure, duplicate ids,
placeholder counts, level words, every image present and decodable), with a progress bar; an empty file is
refused. Any problem stops the run before the model is loaded, listing the first problems.

The result is cached per data file in `OUTPUT_DIR/data_check.json`, keyed by the file's size, modification
time and SHA-256 and the image folder, so a resumed run does not check again (a file that was touched but
not changed is recognised by its hash). `--skip_data_check` skips it (huge sets, already checked).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from cdreasoning.data import check_dataset
from cdreasoning.errors import DataError

__all__ = ["CACHE_NAME", "validate_training_data"]

CACHE_NAME = "data_check.json"
_SHOWN_PROBLEMS = 10


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        # 1 MiB blocks: a large file is hashed without reading it into memory.
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_cache(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return cache if isinstance(cache, dict) else {}


def validate_training_data(
    data_paths: list[str],
    image_folder: str | None,
    output_dir: str | Path,
    *,
    progress: bool = True,
    write_cache: bool = True,
) -> None:
    """Check every data file as `cdreasoning data check` does; raise DataError listing the first problems.

    write_cache: record passed files in OUTPUT_DIR/data_check.json (only the main process should)."""
    cache_path = Path(output_dir) / CACHE_NAME
    cache = _read_cache(cache_path)
    # Resolved, so two spellings of one image folder share a cache entry.
    folder = str(Path(image_folder or ".").resolve())
    changed = False
    for name in data_paths:
        path = Path(name)
        if not path.is_file():
            raise DataError(f"{path}: data file not found")
        stat = path.stat()
        key = str(path.resolve())
        entry = cache.get(key) or {}
        if entry.get("image_folder") == folder:
            # Size and mtime unchanged: trust the cache without hashing (a large file would take seconds).
            if (entry.get("bytes"), entry.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
                continue
            # Touched but identical (a copy, a checkout): refresh the mtime and skip the check.
            if entry.get("sha256") == _sha256(path):
                entry["mtime_ns"] = stat.st_mtime_ns
                changed = True
                continue
        print(
            f"[train] checking {path} and its images before training (--skip_data_check skips this)",
            flush=True,
        )
        report = check_dataset(path, folder, progress=progress)
        if not report.ok:
            shown = "\n".join("  " + p.format() for p in report.problems[:_SHOWN_PROBLEMS])
            more = len(report.problems) - _SHOWN_PROBLEMS
            raise DataError(
                f"{path}: {len(report.problems)} problem(s) found before training:\n{shown}"
                + (f"\n  … and {more} more" if more > 0 else ""),
                hint=f"`cdreasoning data check {path} --image-folder {image_folder or '.'}` lists them all; "
                "fix or remove those records",
            )
        cache[key] = {
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": _sha256(path),
            "image_folder": folder,
            "records": report.records,
        }
        changed = True
    if changed and write_cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        # Write, then rename: a crash mid-write never leaves half a JSON file behind.
        tmp = cache_path.with_name(cache_path.name + ".tmp")
        tmp.write_text(json.dumps(cache, indent=2) + "\n", encoding="utf-8")
        tmp.replace(cache_path)
    sys.stdout.flush()
