"""`cdreasoning cdflow …` — train and test the CD-Flow metric.

    cdreasoning cdflow --help
    cdreasoning cdflow train --training_datadir IMAGES --datapath DATA --work_path runs/cdflow [--preset small]
    cdreasoning cdflow test --training_datadir IMAGES --datapath DATA --work_path runs/cdflow

Each sub-command is a module with `main(argv=None) -> int` and its own `--help`; they are imported only when
their command runs. `python -m cdreasoning.cdflow.train …` / `python -m cdreasoning.cdflow.test …` are the
same commands under the original scripts' names.
"""

from __future__ import annotations

import argparse
import sys

from cdreasoning.cli_support import Commands, command_group_parser, dispatch_subcommand
from cdreasoning.errors import report_errors

SUBCOMMANDS: Commands = {
    "train": (
        "cdreasoning.cdflow.train",
        "train CD-Flow on SPCD-format pair lists (resumable; EMA; best checkpoint by validation SRCC)",
    ),
    "test": (
        "cdreasoning.cdflow.test",
        "score a test pair list with a checkpoint: STRESS / PLCC / SRCC for all, aligned, not-aligned pairs",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    return command_group_parser(
        "cdreasoning cdflow",
        "CD-Flow (CVPR 2023): a normalizing flow whose latent Euclidean distance predicts the "
        "perceived colour difference of two photographs. See docs/cdflow.md.",
        SUBCOMMANDS,
    )


@report_errors
def main(argv: list[str] | None = None) -> int:
    return dispatch_subcommand(argv, SUBCOMMANDS, build_parser)


if __name__ == "__main__":
    sys.exit(main())
