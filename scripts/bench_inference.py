"""Benchmark scoring throughput end to end (image files → decode → preprocess → model → scores), in pairs/s.

    python scripts/bench_inference.py                      # tiny preset on the CPU
    python scripts/bench_inference.py --preset owl2-7b --device cuda --dtype bfloat16 --pairs 2048 --workers 8

Compares `CDScorer.score_pairs` at several batch sizes with the loop the original code runs (one pair per forward,
`scorer.score(a, b)` pair after pair). Weights are random (a fresh `init-model` checkpoint; for owl2-7b it is
written in bf16, ~16 GB, once, under --workdir); images are generated PNGs of `--image-size` px.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_images(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i:04d}.png"
        if not path.exists():
            base = rng.integers(0, 256, 3)
            Image.fromarray(np.clip(base + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)).save(
                path
            )
        paths.append(path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny", choices=["tiny", "owl2-7b"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--pairs", type=int, default=256, help="pairs per measurement")
    parser.add_argument("--batch-sizes", default="1,16,64")
    parser.add_argument("--loop-pairs", type=int, default=64, help="pairs for the one-pair-per-forward loop")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers decoding images")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--workdir", default="/tmp/cdreasoning-bench")
    args = parser.parse_args(argv)

    from cdreasoning import CDScorer
    from cdreasoning.model.presets import write_checkpoint

    work = Path(args.workdir)
    checkpoint = work / f"ckpt-{args.preset}"
    if not (checkpoint / "config.json").is_file():
        dtype = torch.float32 if args.preset == "tiny" else torch.bfloat16
        write_checkpoint(args.preset, checkpoint, dtype=dtype, overwrite=True)
    images = make_images(work / f"images-{args.image_size}", 64, args.image_size)
    pairs = [(images[i % 64], images[(7 * i + 3) % 64]) for i in range(args.pairs)]
    scorer = CDScorer.from_pretrained(checkpoint, device=args.device, dtype=args.dtype)
    sync = torch.cuda.synchronize if scorer.device.type == "cuda" else (lambda: None)
    print(
        f"preset={args.preset} device={scorer.device} dtype={scorer.dtype} threads={torch.get_num_threads()} "
        f"workers={args.workers} image={args.image_size}px"
    )

    scorer.score_pairs(pairs[:8], batch_size=8, num_workers=0)  # warm-up
    loop = pairs[: args.loop_pairs]
    sync()
    start = time.perf_counter()
    for a, b in loop:
        scorer.score(a, b)
    sync()
    loop_rate = len(loop) / (time.perf_counter() - start)
    print(f"{'one pair per forward (original loop)':<40} {loop_rate:8.1f} pairs/s")
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        sync()
        start = time.perf_counter()
        scorer.score_pairs(pairs, batch_size=batch, num_workers=args.workers)
        sync()
        rate = len(pairs) / (time.perf_counter() - start)
        print(f"{f'score_pairs batch {batch}':<40} {rate:8.1f} pairs/s  ({rate / loop_rate:4.1f}× the loop)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
