"""The level scale of Q-Align scoring, re-exported: it lives in `cdreasoning.processing.levels`, below both
inference and training (soft-label training reads the same level tokens the scorer reads)."""

from cdreasoning.processing.levels import LevelScale, level_token_ids

__all__ = ["LevelScale", "level_token_ids"]
