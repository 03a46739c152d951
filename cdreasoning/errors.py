"""The project's exception types (core layer: no dependencies). Every message names the file, record or line
and what is wrong.

- `DataError`: a data file (pair list, annotation, result store) is malformed.
- `ImageError`: an image file is missing or cannot be decoded (a `DataError`, so data readers catch both).
- `CheckpointError`: a model or CD-Flow checkpoint folder/file is missing, incomplete or of another kind.

All three are `ValueError`s, so `except ValueError` in a caller keeps working.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "DataError", "ImageError"]


class DataError(ValueError):
    """A data file is malformed. The message names the file, the line/record and what is wrong."""


class ImageError(DataError):
    """An image cannot be read or converted; the message names the file."""


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete, or not the kind the loader expects; the message names the path."""
