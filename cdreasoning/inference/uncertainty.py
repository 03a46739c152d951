"""How sure a level-word score is: the spread of the level distribution and a ΔV interval around the score.

    from cdreasoning.inference.uncertainty import level_std, delta_v_interval
    std = level_std([0.1, 0.6, 0.3, 0, 0])                   # grade units (the score's 0–5 scale)
    low, high = delta_v_interval(score=1.5, std=std)          # ΔV interval at the default 80 % coverage

A Q-Align score is the expectation μ = Σ p_i·w_i of the level distribution p over the weights
w = (0, 1.25, 2.5, 3.75, 5). Its standard deviation, std = sqrt(Σ p_i·(w_i − μ)²), is what DeQA-Score reports
next to its scores: 0 when the model puts all mass on one level, up to 2.5 when it splits it between negligible
and severe. The interval is μ ± z·std on the grade scale, with z the two-sided normal quantile of the stated
coverage (z = 1.2816 for 80 %), clipped to [w_0, w_n], then mapped to ΔV with
ΔV = 1.6036·exp(0.5391·G) − 1.2943 (monotone, so the ΔV interval contains the score's ΔV). The coverage is
nominal (exact if the model's uncertainty were Gaussian); `cdreasoning eval score` measures the real one
(the share of human ΔV inside the interval), which is what to trust.

numpy only; no torch.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from cdreasoning.constants import LEVEL_WEIGHTS
from cdreasoning.scale import delta_v_from_grade

DEFAULT_COVERAGE = 0.8


def level_std(probabilities, weights=LEVEL_WEIGHTS):
    """Standard deviation (grade units) of level distributions: [n] → float, or [b, n] → [b]."""
    p = np.asarray(probabilities, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    mean = p @ w
    # Two passes (deviations from the mean) rather than E[w²] − μ², which cancels when one level dominates.
    variance = (p * (w - np.expand_dims(mean, -1)) ** 2).sum(-1)
    # Rounding can still leave a variance of about −1e-17: clip before the square root.
    std = np.sqrt(np.clip(variance, 0.0, None))
    return float(std) if std.ndim == 0 else std


def coverage_z(coverage: float = DEFAULT_COVERAGE) -> float:
    """Two-sided standard-normal quantile: the z with P(|Z| ≤ z) = coverage."""
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    # P(|Z| ≤ z) = c ⇔ Φ(z) = (1 + c) / 2.
    return NormalDist().inv_cdf((1.0 + coverage) / 2.0)


def grade_interval(score, std, coverage: float = DEFAULT_COVERAGE, weights=LEVEL_WEIGHTS):
    """(low, high) = score ∓ z·std on the grade scale, clipped to the weight range (floats or arrays)."""
    z = coverage_z(coverage)
    score, std = np.asarray(score, dtype=np.float64), np.asarray(std, dtype=np.float64)
    lowest, highest = min(weights), max(weights)
    # Clipped to the weights' range: the expectation can never leave it, so neither should its interval.
    low = np.clip(score - z * std, lowest, highest)
    high = np.clip(score + z * std, lowest, highest)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def delta_v_interval(score, std, coverage: float = DEFAULT_COVERAGE, weights=LEVEL_WEIGHTS):
    """(delta_v_low, delta_v_high): the grade interval mapped to SPCD's ΔV scale."""
    low, high = grade_interval(score, std, coverage, weights)
    # ΔV(G) is increasing, so mapping the two ends maps the interval.
    return delta_v_from_grade(low), delta_v_from_grade(high)
