"""Benchmark the synthetic SPCD-like set generator (`cdreasoning data synth`). A benchmark, not a test.

    python scripts/bench_synth.py                       # 1,000 pairs at 256 px (the documented number)
    python scripts/bench_synth.py --pairs 3000 --size 512 --keep /tmp/synth

Prints the wall time of a fresh generation (photos loaded, images rendered, framed and written, pairs rated,
every CSV / JSON written), the time per 1,000 pairs and per image, and the time to reuse the finished set.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing: prefer the repository's own package.
_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "cdreasoning").is_dir():
    sys.path.insert(0, str(_ROOT))

from cdreasoning.data.synth import synthesize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `cdreasoning data synth`.")
    parser.add_argument(
        "--pairs", type=int, default=1000, help="rated pairs to generate at least (default: 1000)"
    )
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default: 256)")
    parser.add_argument("--pairs-per-scene", type=int, default=30, help="pairs per scene (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument(
        "--keep", type=Path, default=None, help="write here and keep it (default: a temp folder)"
    )
    args = parser.parse_args(argv)

    scenes = max(3, math.ceil(args.pairs / args.pairs_per_scene))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "synth"
        started = time.perf_counter()
        summary = synthesize(
            out,
            scenes=scenes,
            seed=args.seed,
            size=args.size,
            pairs_per_scene=args.pairs_per_scene,
            overwrite=True,
        )
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        synthesize(out, scenes=scenes, seed=args.seed, size=args.size, pairs_per_scene=args.pairs_per_scene)
        reuse = time.perf_counter() - started
    pairs = sum(summary.pairs[s] for s in ("train", "val", "test"))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"generated {scenes} scenes, {summary.images} images of {args.size} px, {pairs} pairs "
        f"in {fresh:.2f} s "
        f"(includes loading the bundled photos once)"
    )
    print(f"  {1000 * fresh / pairs:.2f} s per 1,000 pairs, {1000 * fresh / summary.images:.1f} ms per image")
    print(
        f"  ΔV proxy: mean {summary.delta_v['mean']:.2f}, median {summary.delta_v['median']:.2f}, "
        f"range {summary.delta_v['min']:.2f}–{summary.delta_v['max']:.2f}"
    )
    print(f"reusing the finished set: {1000 * reuse:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
