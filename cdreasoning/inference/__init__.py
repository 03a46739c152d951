"""Scoring and describing colour differences: `CDScorer` (Python) and `cdreasoning score|describe` (CLI)."""

from cdreasoning.inference.levels import LevelScale
from cdreasoning.inference.scorer import CDScorer, Description, PromptConfig, ScoreResult

__all__ = [
    "CDScorer",
    "Description",
    "LevelScale",
    "PromptConfig",
    "ScoreResult",
]
