"""The SPCD scales: human ΔV, the gray-scale grade G, and the five CD levels.

SPCD's ground truth ΔV was obtained from gray-scale grades G through

    ΔV = 1.6036 · exp(0.5391 · G) − 1.2943        G = ln((ΔV + 1.2943) / 1.6036) / 0.5391

The level of a pair is, in principle, floor(G) clipped to 0..4 (negligible … severe). The M-SPCD files were
labelled with the ΔV of G = 1, 2, 3, 4 rounded to two decimals as boundaries: 1.46, 3.42, 6.79, 12.56 (a pair is
at level k when exactly k boundaries are ≤ its ΔV). That rule reproduces all 5,975 labels of the lower-case
M-SPCD test files; the unrounded floor(G) disagrees on one pair (ΔV 6.7876, G = 3.00015, labelled
"moderate"). A Q-Align style score (softmax of the level logits · [0, 1.25, 2.5, 3.75, 5]) lives on the G scale,
so `delta_v_from_grade(score)` maps it to ΔV.
"""

from __future__ import annotations

import math

import numpy as np

from cdreasoning.constants import CD_LEVELS

# SPCD's fitted constants: ΔV = A·exp(B·G) − C.
_A, _B, _C = 1.6036, 0.5391, 1.2943


# ΔV at which levels 1..4 start: ΔV(G = 1..4) rounded to two decimals, as M-SPCD was labelled.
LEVEL_BOUNDARIES_DELTA_V = tuple(round(_A * math.exp(_B * g) - _C, 2) for g in range(1, len(CD_LEVELS)))


def grade_from_delta_v(delta_v):
    """G from ΔV (float or array). ΔV must exceed −1.2943, where the mapping is defined."""
    arr = np.asarray(delta_v, dtype=np.float64)
    # ΔV ≤ −C has no grade (the log of a non-positive number).
    if not np.all(np.isfinite(arr)) or np.any(arr <= -_C):
        raise ValueError(f"ΔV must be finite and > {-_C}; got {delta_v!r}")
    grade = np.log((arr + _C) / _A) / _B
    return float(grade) if grade.ndim == 0 else grade


def delta_v_from_grade(grade):
    """ΔV from G (float or array); the inverse of `grade_from_delta_v`."""
    arr = np.asarray(grade, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"grade must be finite; got {grade!r}")
    dv = _A * np.exp(_B * arr) - _C
    return float(dv) if dv.ndim == 0 else dv


def level_index_from_delta_v(delta_v) -> int:
    """Index into CD_LEVELS (0 negligible … 4 severe) of one ΔV, by the M-SPCD boundaries."""
    value = float(delta_v)
    if not math.isfinite(value):
        raise ValueError(f"ΔV must be finite; got {delta_v!r}")
    # >=: a ΔV exactly on a boundary belongs to the higher level, as M-SPCD was labelled.
    return sum(1 for boundary in LEVEL_BOUNDARIES_DELTA_V if value >= boundary)


def level_from_delta_v(delta_v) -> str:
    """The lower-case level word of one ΔV (e.g. 4.2 → "moderate")."""
    return CD_LEVELS[level_index_from_delta_v(delta_v)]
