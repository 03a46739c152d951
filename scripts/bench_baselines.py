"""Benchmark the classical baselines: seconds per 1,000 pairs for each method at 256 px and 1024 px.

    python scripts/bench_baselines.py                      # defaults: 200 pairs at 256 px, 48 at 1024 px
    python scripts/bench_baselines.py --pairs-1024 96 --workers 2 --methods ciede2000 scielab

Generates SPCD-like pairs (crops of the photographs shipped with scikit-image, resized to the size, saved as
PNG with Pillow's default compression, with white-balance / gamma / saturation edits), then times
`cdreasoning.evaluate.run_baseline` end to end — PNG decoding, the common-size rule, colour conversion, ΔE,
the cache CSV and the score report (scatter plot included) — with the given number of worker processes.
Two numbers per method and size, because this machine may be shared: the CPU time of the per-pair work in
one process (robust to other load; divided by the worker count it gives the time per 1,000 pairs on an
unloaded machine with that many cores), and the measured end-to-end wall time of a pooled run on a
scaled-down pair count, extrapolated linearly to 1,000 pairs (pool start-up, measured separately, excluded).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cdreasoning.evaluate import BASELINE_METHODS, BaselineConfig, run_baseline

SPCD_TEST_PAIRS = 5975


def _photos() -> list[np.ndarray]:
    from skimage import data

    return [f()[..., :3] for f in (data.astronaut, data.coffee, data.chelsea, data.rocket)]


def _edit(rgb: np.ndarray, kind: int, strength: float) -> np.ndarray:
    x = rgb.astype(np.float32) / 255.0
    if kind == 0:  # white balance
        x = x * np.array([1 + 0.05 * strength, 1.0, 1 - 0.05 * strength], np.float32)
    elif kind == 1:  # gamma (tone)
        x = x ** (1.0 + 0.1 * strength)
    else:  # saturation
        grey = x.mean(axis=-1, keepdims=True)
        x = grey + (x - grey) * (1.0 + 0.15 * strength)
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def make_pairs(folder: Path, size: int, n_pairs: int) -> Path:
    """n_pairs pairs (reference, edit) of size × size images; every pair has its own two files."""
    photos = _photos()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_pairs):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = min(h, w) - 8
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        ref = Image.fromarray(np.ascontiguousarray(photo[top : top + side, left : left + side]))
        ref = np.asarray(ref.resize((size, size), Image.Resampling.BICUBIC))
        scene = f"I{i + 1:04d}"
        Image.fromarray(ref).save(folder / f"{scene}_02_01.png")
        Image.fromarray(_edit(ref, i % 3, 1 + i % 4)).save(folder / f"{scene}_03_01.png")
        rows.append(f"{scene}_02_01.png,{scene}_03_01.png,{1.0 + i % 8}\n")
    csv_path = folder / "pairs.csv"
    csv_path.write_text("".join(rows))
    return csv_path


def _noop(_: int) -> int:
    return 0


def pool_startup_seconds(workers: int) -> float:
    if workers <= 1:
        return 0.0
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_noop, range(workers)))
    return time.perf_counter() - started


def cpu_seconds_per_pair(csv_path: Path, folder: Path, config: BaselineConfig) -> float:
    """CPU time of the per-pair work (decode, resize, convert, ΔE) in this process: robust to machine load."""
    from cdreasoning.evaluate.baseline import _compute_pair

    pairs = [line.split(",")[:2] for line in csv_path.read_text().splitlines()]
    _compute_pair(str(folder / pairs[0][0]), str(folder / pairs[0][1]), config)  # warm caches (kernels)
    started = time.process_time()
    for a, b in pairs:
        _compute_pair(str(folder / a), str(folder / b), config)
    return (time.process_time() - started) / len(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs-256", type=int, default=200, help="pairs timed at 256 px (default 200)")
    parser.add_argument("--pairs-1024", type=int, default=48, help="pairs timed at 1024 px (default 48)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all)"
    )
    parser.add_argument("--methods", nargs="+", default=list(BASELINE_METHODS), choices=BASELINE_METHODS)
    args = parser.parse_args(argv)
    workers = max(1, args.workers)

    print(
        f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start; "
        f"{workers} worker process(es)"
    )
    startup = pool_startup_seconds(workers)
    print(f"worker pool start-up (spawn): {startup:.2f} s per run")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, n_pairs in ((256, args.pairs_256), (1024, args.pairs_1024)):
            folder = Path(tmp) / f"images_{size}"
            folder.mkdir()
            made = time.perf_counter()
            csv_path = make_pairs(folder, size, n_pairs)
            print(f"generated {n_pairs} pairs at {size} px in {time.perf_counter() - made:.1f} s")
            for method in args.methods:
                config = BaselineConfig(method=method, max_side=size)
                cpu = cpu_seconds_per_pair(csv_path, folder, config)
                out = Path(tmp) / f"out_{size}_{method}"
                started = time.perf_counter()
                run_baseline(csv_path, folder, out, config, workers=workers, progress=False, echo=False)
                wall = time.perf_counter() - started
                results.append((size, method, n_pairs, cpu, wall))
                print(
                    f"  {method:<10} {size:>5} px: {1000 * cpu:6.1f} ms CPU per pair; "
                    f"end to end {n_pairs} pairs "
                    f"with {workers} worker(s) in {wall:.1f} s (load {os.getloadavg()[0]:.2f})"
                )

    print()
    print(
        "s/1000 pairs: 'CPU' = CPU time per pair x 1000 / workers (an unloaded machine with this many cores);"
    )
    print(
        "'measured' = end-to-end wall time of the run extrapolated, pool start-up excluded (depends on load)."
    )
    print(
        f"{'method':<11}{'size':>6}{'pairs':>7}{'ms CPU/pair':>13}{'s/1000 (CPU)':>14}"
        f"{'s/1000 (measured)':>19}"
        f"{'SPCD test min (CPU)':>21}"
    )
    for size, method, n, cpu, wall in results:
        per_k_cpu = 1000 * cpu / workers
        per_k_wall = 1000 * max(wall - startup, 1e-9) / n
        print(
            f"{method:<11}{size:>6}{n:>7}{1000 * cpu:>13.1f}{per_k_cpu:>14.0f}{per_k_wall:>19.0f}"
            f"{per_k_cpu * SPCD_TEST_PAIRS / 1000 / 60:>21.1f}"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
