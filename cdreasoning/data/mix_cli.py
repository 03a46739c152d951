"""`cdreasoning data mix` — merge conversation files into one shuffled training file.

    cdreasoning data mix --inputs score_train.json depict_train.json --out train_mix.json
    cdreasoning data mix --inputs score_train.json depict_train.json --repeat 3 1 --out train_full.json
    cdreasoning data mix --help

Bad input ends with one line naming the file and the record/line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import report_data_errors

PROG = "cdreasoning data mix"


def run(args: argparse.Namespace) -> int:
    """The command's work on parsed options; returns the exit status."""
    from cdreasoning.data.jsonio import write_records
    from cdreasoning.data.mix import mix_conversation_files

    result = mix_conversation_files(args.inputs, seed=args.seed, repeat=args.repeat)
    write_records(args.out, result.records)
    for (label, count), path in zip(result.counts.items(), args.inputs):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(result.kinds[label].items()))
        print(f"  {path}: {count} records as '{label}-…' ({kinds})")
    renamed = f", {result.renamed} ids suffixed to stay unique" if result.renamed else ""
    print(f"wrote {len(result.records)} shuffled records to {args.out} (seed {args.seed}{renamed})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of `mix` (every option has a help line; tests/data/test_cli_help.py checks it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Merge score and depict conversation files into one shuffled training file. Every record "
        "is kept; ids are prefixed by the source file's stem ('score_train-000000000001'); the "
        "shuffle is seeded. Prints the count per source.",
    )
    parser.add_argument(
        "--inputs",
        required=True,
        nargs="+",
        type=Path,
        metavar="JSON",
        help="conversation JSON files (score and/or depict, training format)",
    )
    parser.add_argument(
        "--repeat",
        nargs="+",
        type=int,
        metavar="N",
        help="copies of each input's records, one count per input (e.g. 3 1: the first file three times as "
        "often); default 1 each",
    )
    parser.add_argument("--out", required=True, type=Path, help="output JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default: 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return report_data_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
