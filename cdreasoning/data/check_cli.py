"""`cdreasoning data check` — check a conversation / depict JSON (images, placeholders, levels, ids).

    cdreasoning data check train_mix.json --image-folder SPCD/images
    cdreasoning data check --help

Bad input ends with one line naming the file and the record/line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import add_image_folder_argument, report_data_errors

PROG = "cdreasoning data check"


def run(args: argparse.Namespace) -> int:
    """The command's work on parsed options; returns the exit status."""
    from cdreasoning.data.check import check_dataset

    if args.no_images and args.image_folder is not None:
        print("note: --no-images given, --image-folder is ignored", file=sys.stderr)
    report = check_dataset(
        args.json,
        None if args.no_images else args.image_folder,
        check_images=not args.no_images,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(report.format(list_problems=not args.summary_only))
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The options of `check` (every option has a help line; tests/data/test_cli_help.py checks it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check every record of a conversation or depict-test JSON: structure, unique ids, image "
        "placeholder count = image count (<image> accepted and reported), known level words in score "
        "answers (any case), every image exists and decodes. Prints a summary and each problem with "
        "its record id; exits 1 when there are problems.",
    )
    parser.add_argument("json", type=Path, help="the JSON file to check")
    add_image_folder_argument(
        parser,
        "folder the records' image paths are relative to (required unless --no-images)",
        type=Path,
        default=None,
    )
    parser.add_argument("--no-images", action="store_true", help="skip the image existence / decoding checks")
    parser.add_argument("--summary-only", action="store_true", help="print the counts, not every problem")
    parser.add_argument("--workers", type=int, default=4, help="threads decoding images (default: 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return report_data_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
