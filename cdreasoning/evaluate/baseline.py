"""Classical colour-difference baselines on an SPCD pair list: mean CIE ΔE76 / ΔE94 / ΔE00 or S-CIELAB.

    cdreasoning eval baseline --method ciede2000 --pairs data/spcd/test.csv --image-folder SPCD/images \\
        --out runs/baselines/ciede2000

For every pair (`image_a,image_b,ΔV` rows, no header) the two images are loaded (`data.images.load_pair`:
common size, `--max-side` cap), converted sRGB → XYZ → CIELAB (D65), and the image-level colour difference is
the mean over pixels of the per-pixel formula (`colour_difference`), or of S-CIELAB (`scielab`). The results
go through the score report (`score_report.write_score_report`, prediction space ΔV: STRESS on ΔV, PLCC /
RMSE after the logistic fit, SRCC / KRCC raw) for all / pixel-aligned / not-aligned pairs.

Long runs are resumable: each computed pair is appended to OUT/baseline_cache.csv as soon as its batch is
done, and a rerun with the same settings computes only the pairs missing there (the settings are kept in
OUT/baseline_run.json; a rerun with different settings is refused unless --overwrite). Every image path is
checked before any work starts; an unreadable image stops the run with an error naming the file and the CSV
line (the pairs done so far stay in the cache).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from cdreasoning.cli_support import add_image_folder_argument
from cdreasoning.data.result_store import PairCache, read_pair_cache
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.data.spcd_names import spcd_alignment
from cdreasoning.errors import DataError, report_errors
from cdreasoning.evaluate.colour_difference import DELTA_E_METHODS
from cdreasoning.evaluate.scielab import ViewingConditions
from cdreasoning.evaluate.score_report import ScoreRow, write_score_report

__all__ = ["BASELINE_METHODS", "BaselineConfig", "main", "run_baseline"]

BASELINE_METHODS = (*DELTA_E_METHODS, "scielab")
CACHE_NAME = "baseline_cache.csv"
RUN_NAME = "baseline_run.json"


@dataclass(frozen=True)
class BaselineConfig:
    """What is computed (a rerun must use the same values to reuse the cache).

    method: cie76 | cie94 | ciede2000 | scielab.
    max_side: longest image side after loading (images are downscaled to it, never upscaled); None = native.
    display_ppi, viewing_distance_cm, samples_per_degree: S-CIELAB viewing conditions (ignored by the
        others); samples_per_degree, when set, overrides the value derived from the first two.
    """

    method: str = "ciede2000"
    max_side: int | None = 1024
    display_ppi: float = 109.0
    viewing_distance_cm: float = 60.0
    samples_per_degree: float | None = None

    def __post_init__(self) -> None:
        if self.method not in BASELINE_METHODS:
            raise ValueError(f"unknown method {self.method!r}; use one of {BASELINE_METHODS}")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < 1):
            raise ValueError(f"max_side must be a positive integer or None, got {self.max_side!r}")
        self.viewing()  # validates the viewing conditions

    def viewing(self) -> ViewingConditions:
        return ViewingConditions(self.display_ppi, self.viewing_distance_cm, self.samples_per_degree)

    def identity(self) -> dict[str, Any]:
        """The fields that change the numbers (viewing conditions matter for S-CIELAB only)."""
        fields = {"method": self.method, "max_side": self.max_side}
        if self.method == "scielab":
            fields["samples_per_degree"] = self.viewing().samples_per_degree()
        return fields


# --- the work of one process --------------------------------------------------------------------------------


def _compute_pair(path_a: str, path_b: str, config: BaselineConfig) -> float:
    from cdreasoning.data.images import load_pair
    from cdreasoning.evaluate.colour_difference import mean_delta_e
    from cdreasoning.evaluate.scielab import mean_scielab

    pair = load_pair(path_a, path_b, config.max_side)
    if config.method == "scielab":
        return mean_scielab(pair.a, pair.b, config.viewing().samples_per_degree() * pair.scale)
    return mean_delta_e(pair.a, pair.b, config.method)


def _compute_batch(
    tasks: Sequence[tuple[str, int, str, str]], config: BaselineConfig
) -> list[tuple[int, float]]:
    """tasks: (where, task index, path a, path b); `where` ("file:line") prefixes any error."""
    results = []
    for where, index, path_a, path_b in tasks:
        try:
            value = _compute_pair(path_a, path_b, config)
        except DataError as err:
            raise DataError(f"{where}: {err}") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: the {config.method} difference of {path_a} and {path_b} is not finite")
        results.append((index, value))
    return results


# Peak memory of one pair at native size, per pixel of the larger image: measured as about 11.7 GB for one
# 8000×8000 pair (float64 Lab planes, the ΔE00 intermediates, S-CIELAB's filtered planes).
_BYTES_PER_PIXEL = 11.7e9 / (8000 * 8000)
_WARN_BYTES = 2e9


def native_size_memory_warning(paths, workers: int) -> str | None:
    """With `--max-side 0`, what the largest image would cost in memory (per worker and in all), when that is
    more than about 2 GB; None otherwise. Reads only the image headers."""
    from PIL import Image

    largest, where = 0, None
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001, S112 - unreadable images are reported when they are computed
            continue
        if width * height > largest:
            largest, where = width * height, (path, width, height)
    need = largest * _BYTES_PER_PIXEL
    if where is None or need * workers < _WARN_BYTES:
        return None
    path, width, height = where
    return (
        f"--max-side 0 keeps images at native size: the largest ({path}, {width}×{height}) needs about "
        f"{need / 1e9:.1f} GB per pair, {need * workers / 1e9:.1f} GB with {workers} worker(s); use --max-side "
        "(e.g. 2048) or fewer --workers if memory is short"
    )


# --- cache --------------------------------------------------------------------------------------------------


def _prepare_out_dir(out_dir: Path, run_info: dict[str, Any], overwrite: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    run_path, cache_path = out_dir / RUN_NAME, out_dir / CACHE_NAME
    if run_path.is_file() and not overwrite:
        previous = json.loads(run_path.read_text(encoding="utf-8"))
        if previous != run_info:
            changed = sorted(k for k in set(previous) | set(run_info) if previous.get(k) != run_info.get(k))
            raise DataError(
                f"{out_dir} holds a baseline run with other settings ({', '.join(changed)}: "
                + "; ".join(f"{k} was {previous.get(k)!r}, now {run_info.get(k)!r}" for k in changed)
                + "); use another --out or pass --overwrite to discard it"
            )
    if overwrite and cache_path.exists():
        cache_path.unlink()
    run_path.write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")


# --- the run ------------------------------------------------------------------------------------------------


def run_baseline(
    pairs_csv: str | Path,
    image_folder: str | Path,
    out_dir: str | Path,
    config: BaselineConfig,
    *,
    workers: int | None = None,
    batch_size: int = 8,
    method_name: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    echo: bool = True,
) -> dict[str, Any]:
    """Compute the baseline for every pair of `pairs_csv` and write the score report into `out_dir`.

    workers: processes computing pairs (default: all CPU cores; 0 or 1 = in this process).
    batch_size: pairs per task handed to a worker (and per cache flush).
    Returns the score report (what OUT/metrics.json holds).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 0:
        raise ValueError(f"workers must be ≥ 0, got {workers}")
    pairs_csv, image_folder, out_dir = Path(pairs_csv), Path(image_folder), Path(out_dir)
    if not image_folder.is_dir():
        raise DataError(f"{image_folder}: image folder not found")
    pairs = read_spcd_csv(pairs_csv)
    for pair in pairs:  # fail before any work on a missing file
        for name in (pair.image_a, pair.image_b):
            if not (image_folder / name).is_file():
                raise DataError(f"{pairs_csv}:{pair.line}: image {image_folder / name} not found")

    if config.max_side is None:
        paths = {image_folder / name for pair in pairs for name in (pair.image_a, pair.image_b)}
        warning = native_size_memory_warning(paths, max(workers, 1))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)

    run_info = {**config.identity(), "image_folder": str(image_folder.resolve())}
    _prepare_out_dir(out_dir, run_info, overwrite)
    cache_path = out_dir / CACHE_NAME
    cache = read_pair_cache(cache_path, "baseline")

    todo: dict[tuple[str, str], SpcdPair] = {}
    for pair in pairs:
        if pair.key not in cache and pair.key not in todo:
            todo[pair.key] = pair
    tasks = [
        (f"{pairs_csv}:{pair.line}", i, str(image_folder / pair.image_a), str(image_folder / pair.image_b))
        for i, pair in enumerate(todo.values())
    ]
    keys = list(todo)
    batches = [tasks[i : i + batch_size] for i in range(0, len(tasks), batch_size)]
    if echo:
        cached = sum(1 for p in pairs if p.key in cache)
        print(
            f"{config.method}: {len(pairs)} pairs in {pairs_csv}; {cached} already in the cache, {len(keys)} "
            f"to compute with {max(workers, 1)} worker(s)"
        )

    started = time.perf_counter()
    with PairCache(cache_path) as store:

        def record(results: list[tuple[int, float]]) -> None:
            items = [(keys[index], value) for index, value in results]
            cache.update(items)
            store.add_many(items)

        _run_batches(batches, config, workers, record, progress, total=len(tasks), desc=config.method)
    elapsed = time.perf_counter() - started

    rows = [
        ScoreRow(p.image_a, p.image_b, p.delta_v, cache[p.key], spcd_alignment(p.image_a, p.image_b))
        for p in pairs
    ]
    report_config = {
        **asdict(config),
        "samples_per_degree": config.viewing().samples_per_degree() if config.method == "scielab" else None,
        "pairs_csv": str(pairs_csv),
        "image_folder": str(image_folder),
        "computed_pairs": len(keys),
        "seconds": round(elapsed, 2),
        "workers": max(workers, 1),
    }
    return write_score_report(
        rows,
        out_dir,
        prediction_space="delta_v",
        method_name=method_name or config.method,
        config=report_config,
        echo=echo,
    )


def _run_batches(batches, config, workers, record, progress, total, desc) -> None:
    from tqdm import tqdm

    with tqdm(
        total=total, desc=desc, unit="pair", disable=not progress or total == 0, dynamic_ncols=True
    ) as bar:
        if workers <= 1:
            for batch in batches:
                record(_compute_batch(batch, config))
                bar.update(len(batch))
            return
        # spawn: safe whatever the parent process has loaded (threads, torch); workers start in ~1 s.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(_compute_batch, batch, config): len(batch) for batch in batches}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        size = pending.pop(future)
                        record(future.result())  # re-raises a worker's error here
                        bar.update(size)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise


# --- command line -------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning eval baseline",
        description="Classical image-level colour difference of each pair (mean over pixels of CIE ΔE76, "
        "ΔE94, "
        "ΔE00, or S-CIELAB ΔE00), scored against the human ΔV like every other method (STRESS, PLCC after "
        "the logistic fit, SRCC, KRCC, RMSE on all / pixel-aligned / not-aligned pairs).",
        epilog="Outputs in --out: metrics.json, predictions.csv, scatter.png (the score report), "
        "baseline_cache.csv (per-pair results, written as they are computed: rerunning resumes), "
        "baseline_run.json (the settings the cache belongs to).",
    )
    parser.add_argument(
        "--method",
        required=True,
        choices=BASELINE_METHODS,
        help="cie76 = ΔE*ab (CIE 1976); cie94 = ΔE*94 (graphic arts, image_a is the reference); "
        "ciede2000 = ΔE00; scielab = S-CIELAB (Zhang & Wandell) spatial filtering, then ΔE00",
    )
    parser.add_argument(
        "--pairs",
        required=True,
        type=Path,
        help="SPCD pair list: CSV rows 'image_a,image_b,ΔV' without header (e.g. test.csv)",
    )
    add_image_folder_argument(parser, "folder holding the images named in the CSV", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="output folder (created; reused to resume)")
    parser.add_argument(
        "--max-side",
        type=int,
        default=1024,
        help="downscale both images (area averaging) so the longer side is at most this many "
        "pixels; 0 = native size (default: 1024, SPCD's native size)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes computing pairs (default: all CPU cores; 1 = no subprocess)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="pairs per task handed to a worker; also how often the cache is flushed (default 8)",
    )
    parser.add_argument(
        "--display-ppi",
        type=float,
        default=109.0,
        help="S-CIELAB: display pixels per inch, image shown at native size (default 109, "
        "a 27-inch 2560x1440 monitor)",
    )
    parser.add_argument(
        "--viewing-distance-cm",
        type=float,
        default=60.0,
        help="S-CIELAB: viewing distance in cm (default 60)",
    )
    parser.add_argument(
        "--samples-per-degree",
        type=float,
        default=None,
        help="S-CIELAB: pixels per degree of visual angle; overrides the value derived from "
        "--display-ppi and --viewing-distance-cm (2·d·tan(0.5°)·ppi ≈ 44.9 by default)",
    )
    parser.add_argument(
        "--name", default=None, help="method name in the report (default: the --method value)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="discard a previous run in --out with other settings instead of refusing",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = BaselineConfig(
            method=args.method,
            max_side=None if args.max_side == 0 else args.max_side,
            display_ppi=args.display_ppi,
            viewing_distance_cm=args.viewing_distance_cm,
            samples_per_degree=args.samples_per_degree,
        )
        run_baseline(
            args.pairs,
            args.image_folder,
            args.out,
            config,
            workers=args.workers,
            batch_size=args.batch_size,
            method_name=args.name,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (DataError, ValueError) as err:
        print(f"cdreasoning eval baseline: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
