"""The one exception type for bad data files: it always names the file and the line or record."""

from __future__ import annotations


class DataError(ValueError):
    """A data file is malformed. The message names the file, the line/record and what is wrong."""
