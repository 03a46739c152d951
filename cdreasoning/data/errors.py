"""The one exception type for bad data files: it always names the file and the line or record.

It is `cdreasoning.errors.DataError` (the project's error types live in the lowest layer); this module keeps the
name importable from `cdreasoning.data`, which must stay importable without torch.
"""

from __future__ import annotations

from cdreasoning.errors import DataError

__all__ = ["DataError"]
