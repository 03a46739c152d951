"""Seeded random streams whose draws do not depend on library versions.

Text choices (which question, which phrasing) must give byte-identical files for the same seed on any machine,
so they use Python's `random.Random` (its `random()` stream is fixed across Python versions) seeded from a
SHA-256 of the seed and a purpose label: every purpose gets its own independent stream, and adding a new
purpose never shifts the draws of another.
"""

from __future__ import annotations

import hashlib
import random


def stream_seed(seed: int, *labels: object) -> int:
    """A 64-bit integer derived from `seed` and the labels (stable across runs, machines and versions)."""
    text = "\x1f".join([str(int(seed)), *map(str, labels)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def text_rng(seed: int, *labels: object) -> random.Random:
    """An independent `random.Random` for one purpose (e.g. `text_rng(seed, "score-questions")`)."""
    return random.Random(stream_seed(seed, *labels))


def pick(rng: random.Random, options):
    """One element of a sequence, drawn with `rng.random()` only (stable across Python versions)."""
    return options[min(int(rng.random() * len(options)), len(options) - 1)]


def shuffle(rng: random.Random, items: list) -> None:
    """Fisher–Yates shuffle in place, using only `rng.random()`."""
    for i in range(len(items) - 1, 0, -1):
        j = min(int(rng.random() * (i + 1)), i)
        items[i], items[j] = items[j], items[i]
