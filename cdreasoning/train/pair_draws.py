"""Per-sample draws of the score-pair augmentations, shared by every training dataset.

    draws = PairDraws(seed=0, swap_pair_prob=0.5, identical_pair_prob=0.05)
    draws.epoch = 2
    draws.swapped(17), draws.identical(17)      # bools
    paths, answer = draws.apply(17, record, paths)   # the images to load, the answer to train on (None: its own)

Each draw is a pure function of (seed, epoch, record index): it does not consume the global RNG, so a run resumed
from a checkpoint sees the same pairs as an uninterrupted one, and the two draws are independent of each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cdreasoning.constants import ANSWER_TEMPLATE, CD_LEVELS

# What an image against itself is answered (ΔV 0).
IDENTICAL_ANSWER = ANSWER_TEMPLATE.format(level=CD_LEVELS[0])

__all__ = ["IDENTICAL_ANSWER", "PairDraws"]


@dataclass
class PairDraws:
    """swap_pair_prob: P(a score pair is shown as (B, A)); identical_pair_prob: P(it is shown as one of its
    images against itself, answered "negligible"); epoch: set by the trainer each epoch."""

    seed: int = 0
    swap_pair_prob: float = 0.0
    identical_pair_prob: float = 0.0
    epoch: int = 0

    def __post_init__(self):
        for flag, value in (
            ("--swap-pair-prob", self.swap_pair_prob),
            ("--identical-pair-prob", self.identical_pair_prob),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{flag} must be in [0, 1], got {value}")

    def _draw(self, kind: str, index: int, prob: float) -> bool:
        # A string seed: random.Random hashes it deterministically (unlike hash(), which varies by process).
        return prob > 0 and random.Random(f"{kind}:{self.seed}:{self.epoch}:{index}").random() < prob

    def swapped(self, index: int) -> bool:
        """Whether record `index` is shown as (B, A) in the current epoch."""
        return self._draw("swap", index, self.swap_pair_prob)

    def identical(self, index: int) -> bool:
        """Whether record `index` is shown as an image against itself in the current epoch."""
        return self._draw("identical", index, self.identical_pair_prob)

    def apply(self, index: int, record, paths: list) -> tuple[list, str | None]:
        """Record `index`'s image paths in the current epoch, and the answer that replaces its own (None: keep
        it). `record` is a `cdreasoning.data` conversation record; `paths` its images in file order."""
        # Only score pairs: their answer does not depend on the image order, a description's may.
        if record.kind != "score" or len(paths) != 2:
            return paths, None
        if self.swapped(index):
            paths = paths[::-1]
        # Only one-round records become identical pairs: their whole answer is the level sentence.
        if len(record.turns) == 2 and self.identical(index):
            return [paths[0], paths[0]], IDENTICAL_ANSWER
        return paths, None
