"""`cdreasoning data synth` — make an SPCD-like set from photographs bundled with installed packages.

    cdreasoning data synth --out data/synth --scenes 30 --seed 0
    cdreasoning data synth --help

Bad input ends with one line naming the file and the record/line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import report_data_errors

PROG = "cdreasoning data synth"


def run(args: argparse.Namespace) -> int:
    """The command's work on parsed options; returns the exit status."""
    from cdreasoning.data.synth import synthesize

    summary = synthesize(
        args.out,
        scenes=args.scenes,
        seed=args.seed,
        size=args.size,
        pairs_per_scene=args.pairs_per_scene,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(summary.format())
    if summary.images_kept:
        print(f"  resumed: kept {summary.images_kept} images written by an interrupted run")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of `synth` (every option has a help line; tests/data/test_cli_help.py checks it)."""
    from cdreasoning.data.synth.generate import DEFAULT_PAIRS_PER_SCENE

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write an SPCD-like data set that needs no download: scenes cut from the photographs "
        "bundled with scikit-image, scikit-learn and matplotlib; group 01 = phone captures (own look, own "
        "framing: not pixel-aligned), groups 02-07 = ISP-style edits of I*_01_01 (aligned); proxy "
        "ΔV on SPCD's scale and per-attribute severities as ground truth; SPCD CSVs, M-SPCD score "
        "and depict JSONs, a training mix and synth_meta.json. Deterministic for a seed; an "
        "existing identical set is reused, an interrupted one resumed.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--scenes", required=True, type=int, help="number of scenes (≥ 3; split 70/10/20 by scene)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of everything random (default: 0)")
    parser.add_argument(
        "--size", type=int, default=256, help="image side in pixels (default: 256, minimum 32)"
    )
    parser.add_argument(
        "--pairs-per-scene",
        type=int,
        default=DEFAULT_PAIRS_PER_SCENE,
        help=f"rated pairs per scene, about one third phone-vs-phone (default: "
        f"{DEFAULT_PAIRS_PER_SCENE}, like SPCD)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different set in --out (removes only the names the generator writes)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    from cdreasoning.data.synth.generate import MIN_SIZE

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scenes < 3:
        parser.error(f"--scenes must be ≥ 3 (train, val and test each need a scene), got {args.scenes}")
    if args.size < MIN_SIZE:
        parser.error(f"--size must be ≥ {MIN_SIZE}, got {args.size}")
    if args.pairs_per_scene < 2:
        parser.error(f"--pairs-per-scene must be ≥ 2, got {args.pairs_per_scene}")
    return report_data_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
