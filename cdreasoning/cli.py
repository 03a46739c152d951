"""`cdreasoning` — the command-line front door.

Each sub-command lives in its own module exposing `main(argv=None) -> int`; this file only dispatches
(`cdreasoning.cli_support`, the one way command groups are built), importing the module when its command is
used: `cdreasoning --help` and `cdreasoning data …` import neither torch nor transformers
(tests/test_import_weight.py checks it).

    cdreasoning --help
    cdreasoning <command> --help
"""

from __future__ import annotations

import sys

from cdreasoning.cli_support import Commands, command_group_parser, dispatch_subcommand
from cdreasoning.errors import report_errors

# command → (module, one-line help)
COMMANDS: Commands = {
    "quickstart": (
        "cdreasoning.quickstart",
        "the main job end to end on the embedded default (data → train → eval → report)",
    ),
    "init-model": (
        "cdreasoning.backbones.init_cli",
        (
            "write a randomly initialised checkpoint "
            "(tiny, owl2-7b, tiny-qwen2_5_vl, tiny-qwen3_vl, tiny-qwen3_5, tiny-idefics3)"
        ),
    ),
    "score": ("cdreasoning.inference.score_cli", "score the colour difference of image pairs"),
    "describe": ("cdreasoning.inference.describe_cli", "describe the colour difference of image pairs"),
    "train": ("cdreasoning.train.finetune", "fine-tune (full or LoRA, DeepSpeed-ready)"),
    "export": ("cdreasoning.train.export", "merge a LoRA run into a standalone checkpoint"),
    "eval": ("cdreasoning.evaluate.cli", "evaluate scores, descriptions, baselines; compare results"),
    "data": ("cdreasoning.data.cli", "read, build, check and synthesise SPCD / M-SPCD data"),
    "cdflow": ("cdreasoning.cdflow.cli", "train / test the CD-Flow metric"),
    "demo": (
        "cdreasoning.demo.cli",
        "a local web page: drop two photos, see the difference scored and mapped",
    ),
}


def build_parser():
    """The front door's help page: the command table above."""
    return command_group_parser(
        "cdreasoning",
        "Measure and explain perceptual colour differences between two photographs.",
        COMMANDS,
    )


@report_errors
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-V", "--version"):
        from cdreasoning import __version__

        print(__version__)
        return 0
    return dispatch_subcommand(argv, COMMANDS, build_parser)


if __name__ == "__main__":
    sys.exit(main())
