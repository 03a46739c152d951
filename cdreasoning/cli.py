"""`cdreasoning` — the command-line front door.

Each sub-command lives in its own module exposing `main(argv=None) -> int`; this file only dispatches, importing
the module when its command is used (so `cdreasoning data …` never imports torch-heavy model code).

    cdreasoning --help
    cdreasoning <command> --help
"""

from __future__ import annotations

import importlib
import sys

# command → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": (
        "cdreasoning.quickstart",
        "the main job end to end on the embedded default (data → train → eval → report)",
    ),
    "init-model": (
        "cdreasoning.backbones.init_cli",
        "write a randomly initialised checkpoint (tiny, owl2-7b, tiny-qwen2_5_vl, tiny-qwen3_vl, tiny-idefics3)",
    ),
    "score": ("cdreasoning.inference.score_cli", "score the colour difference of image pairs"),
    "describe": ("cdreasoning.inference.describe_cli", "describe the colour difference of image pairs"),
    "train": ("cdreasoning.train.finetune", "fine-tune (full or LoRA, DeepSpeed-ready)"),
    "export": ("cdreasoning.train.export", "merge a LoRA run into a standalone checkpoint"),
    "eval": ("cdreasoning.evaluate.cli", "evaluate scores, descriptions, baselines; compare results"),
    "data": ("cdreasoning.data.cli", "read, build, check and synthesise SPCD / M-SPCD data"),
    "cdflow": ("cdreasoning.cdflow.cli", "train / test the CD-Flow metric"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: cdreasoning <command> [options]",
        "",
        "Measure and explain perceptual colour differences between two photographs.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `cdreasoning <command> --help` for the options of a command."]
    return "\n".join(lines)


def command_group_parser(prog: str, description: str, subcommands: dict[str, tuple[str, str]]):
    """The argparse parser of a command group (`cdreasoning eval`, `cdreasoning cdflow`): its help lists the
    sub-commands; each sub-command module parses its own options."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=f"Run `{prog} <command> --help` for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, (_, help_) in subcommands.items():
        commands.add_parser(name, help=help_, add_help=False)
    return parser


def dispatch_subcommand(argv: list[str], subcommands: dict[str, tuple[str, str]], build_parser) -> int:
    """Run `argv[0]`'s module (`subcommands`: name → (module with main(argv), help)) on the rest of argv; print
    `build_parser()`'s help for no command or --help; an unknown command gets argparse's usage error (exit 2).
    The command groups (`cdreasoning eval …`, `cdreasoning cdflow …`) use this, so their modules are imported
    only when their command runs."""
    if argv and argv[0] in subcommands:
        module = importlib.import_module(subcommands[argv[0]][0])
        return int(module.main(argv[1:]) or 0)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help", "help"):
        parser.print_help()
        return 0
    parser.parse_args(argv)  # an unknown command: argparse prints the usage and exits with status 2
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from cdreasoning import __version__

        print(__version__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"cdreasoning: unknown command {command!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
