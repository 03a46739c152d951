"""`cdreasoning data build-score` — SPCD CSV → M-SPCD score-task conversations.

    cdreasoning data build-score --spcd-csv train.csv --out score_train.json --dedupe
    cdreasoning data build-score --help

Bad input ends with one line naming the file and the record/line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import report_data_errors

PROG = "cdreasoning data build-score"


def run(args: argparse.Namespace) -> int:
    """The command's work on parsed options; returns the exit status."""
    from cdreasoning.constants import CD_LEVELS
    from cdreasoning.data.jsonio import write_records
    from cdreasoning.data.score_task import build_score_records, dedupe_pairs
    from cdreasoning.data.spcd import read_spcd_csv
    from cdreasoning.scale import level_from_delta_v

    pairs = read_spcd_csv(args.spcd_csv)
    removed = 0
    if args.dedupe:
        pairs, removed = dedupe_pairs(pairs)
    records = build_score_records(pairs, seed=args.seed)
    write_records(args.out, records)
    levels = dict.fromkeys(CD_LEVELS, 0)
    for pair in pairs:
        levels[level_from_delta_v(pair.delta_v)] += 1
    print(
        f"{args.spcd_csv}: {len(pairs) + removed} rows"
        + (f", {removed} duplicate rows removed" if args.dedupe else "")
    )
    print(
        f"wrote {len(records)} score records to {args.out} (seed {args.seed}); levels: "
        + ", ".join(f"{k} {v}" for k, v in levels.items())
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of `build-score` (every option has a help line; tests/data/test_cli_help.py checks it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn an SPCD pair list (rows image_a,image_b,ΔV) into M-SPCD score-task conversations: "
        "id = 12-digit running number, image = [image_a, image_b] in CSV order, a human turn "
        "'<|image|><|image|>\\n' + one of the 20 M-SPCD questions (seeded), the answer 'The color "
        "difference between these two images is {level}.' with the M-SPCD level of ΔV, gt_score = ΔV. "
        "Same CSV and seed → byte-identical output.",
    )
    parser.add_argument(
        "--spcd-csv", required=True, type=Path, help="SPCD CSV (image_a,image_b,ΔV per row, no header)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output JSON file (list of conversation records)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the question draw (default: 0)")
    parser.add_argument(
        "--dedupe",
        action="store_true",
        help="drop rows identical to an earlier row (SPCD's train split lists its 7,005 phone pairs "
        "twice: 28,025 rows → 21,020); prints how many were removed",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return report_data_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
