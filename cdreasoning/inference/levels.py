"""The level words and their in-context token lookup live in `cdreasoning.processing.levels` (one layer down, so
the backbones can use them); this module keeps the old import path working."""

from cdreasoning.processing.levels import LevelScale, level_token_ids

__all__ = ["LevelScale", "level_token_ids"]
