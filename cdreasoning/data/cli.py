"""`cdreasoning data …` — build, merge, check and synthesise SPCD / M-SPCD training data.

    cdreasoning data build-score    --spcd-csv train.csv --out score_train.json --dedupe
    cdreasoning data build-describe --severities severities.csv --out depict_train.json --format train
    cdreasoning data mix            --inputs score_train.json depict_train.json --out train_mix.json
    cdreasoning data check          train_mix.json --image-folder SPCD/images
    cdreasoning data synth          --out data/synth --scenes 30 --seed 0

Each sub-command is a module `cdreasoning/data/<command>_cli.py` with `main(argv=None) -> int` and its own
`--help`, imported only when its command runs (`cdreasoning.cli_support`). Bad input ends with one line naming
the file and the record/line (exit status 2); `check` exits 1 when it finds problems.
"""

from __future__ import annotations

import argparse
import sys

from cdreasoning.cli_support import Commands, command_group_parser, dispatch_subcommand
from cdreasoning.errors import report_errors

SUBCOMMANDS: Commands = {
    "build-score": ("cdreasoning.data.build_score_cli", "SPCD CSV → M-SPCD score-task conversations"),
    "build-describe": (
        "cdreasoning.data.build_describe_cli",
        "per-attribute severities → depict-task records",
    ),
    "mix": ("cdreasoning.data.mix_cli", "merge conversation files into one shuffled training file"),
    "check": (
        "cdreasoning.data.check_cli",
        "check a conversation / depict JSON (images, placeholders, levels, ids)",
    ),
    "synth": (
        "cdreasoning.data.synth_cli",
        "make an SPCD-like set from photographs bundled with installed packages",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    return command_group_parser(
        "cdreasoning data",
        "Build, merge, check and synthesise SPCD / M-SPCD data for training and evaluation. Real SPCD data: "
        "build-score (CSV → score conversations), build-describe (severities → depict records), mix (one "
        "training file), check (images, placeholders, levels, ids). No data at hand: synth makes an SPCD-like "
        "set from photographs bundled with scikit-image, scikit-learn and matplotlib.",
        SUBCOMMANDS,
    )


@report_errors
def main(argv: list[str] | None = None) -> int:
    return dispatch_subcommand(argv, SUBCOMMANDS, build_parser)


if __name__ == "__main__":
    sys.exit(main())
