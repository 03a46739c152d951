"""The one way to build a command group (core layer: standard library only).

`cdreasoning`, `cdreasoning eval`, `cdreasoning cdflow` and `cdreasoning data` are all command groups: a table
`name → (module exposing main(argv) -> int, one-line help)`, a help page listing it, and a dispatcher that
imports a command's module only when that command runs — so `cdreasoning --help` and `cdreasoning data …`
never import torch or transformers.

    COMMANDS = {"score": ("cdreasoning.evaluate.cd_score", "score every pair of a test set")}
    def build_parser(): return command_group_parser("cdreasoning eval", "Evaluate …", COMMANDS)
    def main(argv=None): return dispatch_subcommand(argv, COMMANDS, build_parser)

Sub-command modules import from here, never from the group that dispatches to them (layers run one way).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

__all__ = [
    "Commands",
    "add_image_folder_argument",
    "command_group_parser",
    "dispatch_subcommand",
    "report_data_errors",
]

# command name → (module with main(argv) -> int, one-line help)
Commands = dict[str, tuple[str, str]]


def command_group_parser(
    prog: str, description: str, subcommands: Commands, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The argparse parser of a command group: its help lists the sub-commands; each sub-command module
    parses its own options (so this parser never sees them)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog or f"Run `{prog} <command> --help` for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, (_, help_) in subcommands.items():
        commands.add_parser(name, help=help_, add_help=False)
    return parser


def dispatch_subcommand(
    argv: list[str] | None, subcommands: Commands, build_parser: Callable[[], argparse.ArgumentParser]
) -> int:
    """Run `argv[0]`'s module on the rest of argv and return its exit status.

    No command, `-h`, `--help` or `help`: print `build_parser()`'s help, return 0. An unknown command: print
    "PROG: unknown command 'x'" and the usage to stderr, return 2 (the same in every group).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in subcommands:
        module = importlib.import_module(subcommands[argv[0]][0])
        return int(module.main(argv[1:]) or 0)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help", "help"):
        parser.print_help()
        return 0
    print(f"{parser.prog}: unknown command {argv[0]!r}\n", file=sys.stderr)
    parser.print_usage(sys.stderr)
    return 2


def report_data_errors(run: Callable[[], int]) -> int:
    """`run()`'s exit status; a project error (`DataError`, …) becomes `error: …` (+ `hint: …`) on stderr and
    its exit status (2), as `cdreasoning.errors.report_errors` does; with --debug the traceback is shown."""
    from cdreasoning.errors import CDReasoningError, debug_requested, format_error

    try:
        return int(run() or 0)
    except CDReasoningError as error:
        if debug_requested():
            raise
        print(format_error(error), file=sys.stderr)
        return error.exit_status


def add_image_folder_argument(parser: argparse.ArgumentParser, help: str, **options) -> None:
    """`--image-folder` (dest `image_folder`), the one spelling of "the folder image names are relative to" on
    every command; `--image_folder` stays accepted as the original scripts' spelling. `options` go to argparse
    (default, required, type)."""
    parser.add_argument("--image-folder", "--image_folder", dest="image_folder", help=help, **options)
