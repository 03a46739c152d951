"""`cdreasoning data build-describe` — per-attribute severities → depict-task records.

    cdreasoning data build-describe --severities severities.csv --out depict_train.json --format train
    cdreasoning data build-describe --help

Bad input ends with one line naming the file and the record/line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import report_data_errors

PROG = "cdreasoning data build-describe"


def run(args: argparse.Namespace) -> int:
    """The command's work on parsed options; returns the exit status."""
    from cdreasoning.data.depict_task import build_describe_records, read_severity_table
    from cdreasoning.data.jsonio import write_records

    items = read_severity_table(args.severities)
    records = build_describe_records(items, seed=args.seed, fmt=args.format)
    write_records(args.out, records)
    print(f"wrote {len(records)} depict records ({args.format} format) to {args.out} (seed {args.seed})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of `build-describe` (every option has a help line; tests/data/test_cli_help.py checks it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write depict-task records with generated natural descriptions from per-attribute "
        "severities. Input: a CSV with header image_a,image_b,white_balance,brightness_contrast,"
        "color_contrast,overall_brightness,overall_color,dark_details,bright_details (severities "
        'slight/moderate/severe), or a JSON list of {"image": [a, b], "severities": {...}}. '
        "Every description names each attribute once with its severity word in the same clause.",
    )
    parser.add_argument(
        "--severities", required=True, type=Path, help="severities table (.csv or .json, see above)"
    )
    parser.add_argument("--out", required=True, type=Path, help="output JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the phrasing choices (default: 0)")
    parser.add_argument(
        "--format",
        choices=("train", "test"),
        default="train",
        help="train: conversation records (id, image, conversations, severities); test: records like "
        "M-SPCD's depict_align_test.json (question_id, image, text, human_answer, severities) "
        "(default: train)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return report_data_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
