"""Per-sample draws of the score-pair augmentations, shared by every training dataset.

    draws = PairDraws(seed=0, swap_pair_prob=0.5, identical_pair_prob=0.05)
    draws.epoch = 2
    draws.swapped(17), draws.identical(17)      # bools

Each draw is a pure function of (seed, epoch, record index): it does not consume the global RNG, so a run resumed
from a checkpoint sees the same pairs as an uninterrupted one, and the two draws are independent of each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["PairDraws"]


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
