"""The project's error types, and the wrapper that turns them into one clear line at the command line.

    raise DataError(f"{path}:3: unknown level word 'big'", hint="use one of negligible, slight, …")
    raise UsageError("device 'cuda:0' requested but CUDA is not available", hint="use --device auto")

    @report_errors
    def main(argv=None) -> int: ...

Every command-line entry (`cdreasoning <command>`, `python cdreasoning/evaluate/cd_score.py`, `python -m …`)
goes through `report_errors`: a `CDReasoningError` reaches the user as `error: <message>` and, when there is
one, `hint: <what to do>`, with exit status 2 for usage and data errors and 1 for a partial failure (some pairs
could not be processed). `--debug` anywhere on the command line (or `CDREASONING_DEBUG=1`) shows the full
traceback instead. Errors that are not the project's own (a bug) keep their traceback.

The types (core layer: no dependencies; every message names the file, record or line and what is wrong):

- `DataError`: a data file (pair list, annotation, result store) is malformed or does not fit the run;
- `ImageError`: an image file is missing or cannot be decoded (a `DataError`, so data readers catch both);
- `CheckpointError`: a model or CD-Flow checkpoint folder/file is missing, incomplete or of another kind;
- `UsageError`: a command-line option cannot be honoured (a device this machine lacks, a misplaced option);
- `PartialFailure`: the run finished but some items failed (exit status 1).

All but `PartialFailure` are `ValueError`s, so `except ValueError` in a caller keeps working.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable

__all__ = [
    "CDReasoningError",
    "CheckpointError",
    "DataError",
    "ImageError",
    "PartialFailure",
    "UsageError",
    "debug_requested",
    "report_errors",
]


class CDReasoningError(Exception):
    """An error the user can fix; the message names the file, record or option and what is wrong.

    hint: one sentence saying what to do (a flag, a command, a file to look at), printed under the message.
    exit_status: the command's exit status when this error ends it.
    """

    exit_status = 2

    def __init__(self, message: str = "", *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class UsageError(CDReasoningError, ValueError):
    """A command-line option or argument cannot be honoured (exit status 2)."""


class DataError(CDReasoningError, ValueError):
    """A data, result or checkpoint file is malformed or does not fit the run (exit status 2). The message names
    the file, the line/record and what is wrong."""


class ImageError(DataError):
    """An image cannot be read or converted; the message names the file."""


class CheckpointError(CDReasoningError, ValueError):
    """A checkpoint is missing, incomplete, or not the kind the loader expects; the message names the path."""


class PartialFailure(CDReasoningError):
    """The run finished but some items failed (exit status 1); what was done is kept."""

    exit_status = 1


# Nesting depth of report_errors: a command group's main calls its sub-command's main; only the outermost one
# reports, so an error is printed once and --debug is seen by every level.
_DEPTH = 0
_DEBUG = False


def debug_requested() -> bool:
    """True when the user asked for tracebacks (--debug on the outermost command line or CDREASONING_DEBUG)."""
    return _DEBUG or os.environ.get("CDREASONING_DEBUG", "") not in ("", "0")


def format_error(error: CDReasoningError) -> str:
    """`error: <message>`, then `hint: <hint>` when the error has one."""
    text = f"error: {error}"
    if error.hint:
        text += f"\nhint: {error.hint}"
    return text


def report_errors(main: Callable[..., int | None]) -> Callable[[list[str] | None], int]:
    """Wrap a `main(argv=None) -> int` so the project's errors become a message and an exit status.

    `--debug` is removed from argv before `main` parses it (every command accepts it)."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        global _DEPTH, _DEBUG
        argv = list(sys.argv[1:] if argv is None else argv)
        outermost = _DEPTH == 0
        if "--debug" in argv:
            argv = [a for a in argv if a != "--debug"]
            _DEBUG = True
        _DEPTH += 1
        try:
            return int(main(argv) or 0)
        except CDReasoningError as error:
            if not outermost or debug_requested():
                raise
            sys.stdout.flush()
            print(format_error(error), file=sys.stderr)
            return error.exit_status
        finally:
            _DEPTH -= 1
            if outermost:
                _DEBUG = False

    return wrapper


def print_traceback_if_debug() -> None:
    """For code that catches an error to report it itself: print the traceback when --debug is on."""
    if debug_requested():
        traceback.print_exc()
