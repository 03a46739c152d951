"""`cdreasoning eval …` — evaluation commands.

    cdreasoning eval --help
    cdreasoning eval score --model-path CKPT --data test.csv --image-folder IMAGES --out runs/eval/model
    cdreasoning eval describe --model-path CKPT --data depict_test.json --image-folder IMAGES
    cdreasoning eval baseline --method ciede2000 --pairs test.csv --image-folder IMAGES --out runs/ciede2000
    cdreasoning eval compare runs/ciede2000 runs/cdflow --out runs/leaderboard

Each sub-command is a module with `main(argv=None) -> int` (and its own argparse parser and `--help`);
adding one is one line in SUBCOMMANDS. Modules are imported only when their command runs.
"""

from __future__ import annotations

import argparse
import sys

from cdreasoning.cli_support import Commands, command_group_parser, dispatch_subcommand
from cdreasoning.errors import report_errors

# name → (module exposing main(argv), one-line help)
SUBCOMMANDS: Commands = {
    "score": (
        "cdreasoning.evaluate.cd_score",
        "score every pair of a test set with a model and report STRESS / PLCC / SRCC (all, aligned, not aligned)",
    ),
    "describe": (
        "cdreasoning.evaluate.cd_description",
        "describe every pair of a depict test set with a model and report per-attribute severity accuracy",
    ),
    "baseline": (
        "cdreasoning.evaluate.baseline",
        "classical image-level colour difference (mean CIE ΔE76/ΔE94/ΔE00, S-CIELAB) scored vs human ΔV",
    ),
    "compare": (
        "cdreasoning.evaluate.compare",
        "one leaderboard (markdown + bar chart) from several score-report directories on identical pairs",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    return command_group_parser(
        "cdreasoning eval",
        "Evaluate colour-difference predictions against SPCD human judgements.",
        SUBCOMMANDS,
    )


@report_errors
def main(argv: list[str] | None = None) -> int:
    return dispatch_subcommand(argv, SUBCOMMANDS, build_parser)


if __name__ == "__main__":
    sys.exit(main())
