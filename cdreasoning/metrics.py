"""Agreement between predicted colour differences and human judgements: STRESS, PLCC, SRCC, KRCC, RMSE.

Conventions (see FACTS §3 and the README's evaluation section):
- `stress(pred, human)`: García et al. 2007, ×100. With ΔE = pred and ΔV = human,
  F = ΣΔE²/ΣΔE·ΔV and STRESS = 100·sqrt(Σ(ΔE − F·ΔV)² / (F²·ΣΔV²)). 0 means exactly proportional; lower is
  better. Equal to 100 × `colour.index_stress(pred, human)`.
- `plcc(pred, human, fit=None)`: Pearson correlation. With `fit="logistic5"` the predictions are first mapped
  by the 5-parameter logistic+linear function used by SPCD / CD-Flow,
  f(x) = t0·(0.5 − 1/(1 + exp(t1·(x − t2)))) + t3 + t4·x, fitted to the human scores by least squares.
- `srcc`, `krcc`: Spearman / Kendall rank correlations of the raw predictions (no fit changes ranks).
- `rmse`: root-mean-square error (after `fit` if given).

Every function raises ValueError on NaN/inf, on fewer than 3 pairs, on length mismatch, on constant input
(where a correlation is undefined) instead of returning NaN, and on inputs that are not one score per pair
(a 2-D array such as [n, 1] predictions against [1, n] scores would otherwise be flattened silently).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# scipy.optimize / scipy.stats are imported inside the functions that use them: together they take ~1 s to
# import on 2 CPU cores, and `import cdreasoning.metrics` (every report, `cdreasoning --help` paths) should not.

__all__ = ["Logistic5Fit", "fit_logistic5", "krcc", "logistic5", "plcc", "rmse", "srcc", "stress"]


def _one_per_pair(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(
            f"{name} scores must be one value per pair (a 1-D sequence), got shape {tuple(array.shape)}; "
            "flatten them yourself if that is what you mean"
        )
    return array


def _validate(pred, human, *, need_variation: bool = True) -> tuple[np.ndarray, np.ndarray]:
    p = _one_per_pair(pred, "prediction")
    h = _one_per_pair(human, "human")
    if p.shape != h.shape:
        raise ValueError(f"prediction and human scores differ in length: {p.size} vs {h.size}")
    if p.size < 3:
        raise ValueError(f"need at least 3 pairs, got {p.size}")
    for name, arr in (("prediction", p), ("human", h)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"{name} scores contain {bad.size} non-finite value(s), first at index {bad[0]}")
        # A correlation divides by the spread, so constant scores would give NaN.
        if need_variation and np.ptp(arr) == 0:
            raise ValueError(f"{name} scores are constant ({float(arr[0])}); the metric is undefined")
    return p, h


def stress(pred, human) -> float:
    """STRESS ×100 (0 = proportional, lower is better). Both inputs must be positive-valued differences."""
    # need_variation=False: STRESS is defined for constant inputs (it is merely large); zero ones fail below.
    de, dv = _validate(pred, human, need_variation=False)
    cross = float(np.sum(de * dv))
    # F divides by Σ pred·human; a non-positive cross term means the inputs are not differences at all.
    if cross <= 0 or not np.any(de) or not np.any(dv):
        raise ValueError("STRESS needs positive colour differences (Σ pred·human must be > 0)")
    # F = ΣΔE² / ΣΔE·ΔV scales ΔV onto ΔE, so STRESS ignores a global unit factor (García et al. 2007).
    f = float(np.sum(de * de)) / cross
    return 100.0 * math.sqrt(float(np.sum((de - f * dv) ** 2)) / (f * f * float(np.sum(dv * dv))))


def logistic5(x, t0, t1, t2, t3, t4):
    """f(x) = t0·(0.5 − 1/(1 + exp(t1·(x − t2)))) + t3 + t4·x (vectorised, overflow-safe)."""
    x = np.asarray(x, dtype=np.float64)
    # exp overflows float64 above ~709; with the clip 1/(1 + exp(z)) is still 0 or 1 to double precision.
    z = np.clip(t1 * (x - t2), -500.0, 500.0)
    return t0 * (0.5 - 1.0 / (1.0 + np.exp(z))) + t3 + t4 * x


@dataclass(frozen=True)
class Logistic5Fit:
    """Fitted parameters (t0..t4); call it to map predictions onto the human scale."""

    params: tuple[float, float, float, float, float]

    def __call__(self, x) -> np.ndarray:
        return logistic5(x, *self.params)


def _monotone(params, p: np.ndarray) -> bool:
    """True when logistic5(·, params) is monotone (either direction) over [min p, max p]."""
    steps = np.diff(logistic5(np.linspace(float(np.min(p)), float(np.max(p)), 512), *params))
    # Tolerance relative to the curve's largest step, so flat stretches with rounding noise count as monotone.
    scale = float(np.max(np.abs(steps))) or 1.0
    return bool(np.all(steps >= -1e-9 * scale) or np.all(steps <= 1e-9 * scale))


def fit_logistic5(pred, human) -> Logistic5Fit:
    """Least-squares fit of `logistic5` from predictions to human scores.

    Started from the usual SPCD / VQEG initial guess (amplitude = range of the human scores, slope 1 over the
    spread of the predictions, centre = mean prediction). The linear least-squares fit (t0 = 0, still a member
    of the family) is returned instead when the optimiser fails, when its parameters are ill-conditioned
    (infinite or non-finite covariance, fewer points than parameters), or when the fitted curve is not monotone
    over the predictions' range (a mapping that bends back would reward a predictor for ranking pairs wrongly).
    """
    from scipy import optimize

    p, h = _validate(pred, human)
    # Constant predictions have no spread: slope 1 instead of a division by zero.
    spread = float(np.std(p)) or 1.0
    # t0: the human range, t1: unit slope per prediction std,
    # t2: centred, t3: the human mean, t4: no linear term.
    guess = [float(np.max(h) - np.min(h)), 1.0 / spread, float(np.mean(p)), float(np.mean(h)), 0.0]
    with warnings.catch_warnings():
        # curve_fit warns when it cannot estimate the covariance;
        # that case is caught by the finiteness test below.
        warnings.simplefilter("ignore")
        try:
            # maxfev 20000: five parameters from a rough start need many evaluations.
            params, covariance = optimize.curve_fit(logistic5, p, h, p0=guess, maxfev=20000)
            conditioned = np.all(np.isfinite(params)) and np.all(np.isfinite(np.diag(covariance)))
            if conditioned and _monotone(params, p):
                return Logistic5Fit(tuple(float(v) for v in params))
        except (RuntimeError, optimize.OptimizeWarning, ValueError, TypeError):
            pass  # TypeError: fewer points than the 5 parameters
    # The linear fit is the family member with t0 = 0 (t1, t2 then irrelevant).
    slope, intercept = np.polyfit(p, h, 1)
    return Logistic5Fit((0.0, 1.0, 0.0, float(intercept), float(slope)))


def plcc(pred, human, fit: str | None = None) -> float:
    """Pearson linear correlation; `fit="logistic5"` maps predictions through the fitted logistic first."""
    p, h = _validate(pred, human)
    if fit is not None:
        if fit != "logistic5":
            raise ValueError(f"unknown fit {fit!r}; use None or 'logistic5'")
        # Fitted and evaluated on the same pairs, as SPCD / CD-Flow report PLCC.
        p = fit_logistic5(p, h)(p)
        if np.ptp(p) == 0:
            raise ValueError("the logistic fit collapsed to a constant; PLCC is undefined")
    from scipy import stats

    return float(stats.pearsonr(p, h)[0])


def srcc(pred, human) -> float:
    """Spearman rank-order correlation."""
    from scipy import stats

    p, h = _validate(pred, human)
    return float(stats.spearmanr(p, h)[0])


def krcc(pred, human) -> float:
    """Kendall rank-order correlation (tau-b)."""
    from scipy import stats

    p, h = _validate(pred, human)
    return float(stats.kendalltau(p, h)[0])


def rmse(pred, human, fit: str | None = None) -> float:
    """Root-mean-square error, after the logistic fit when `fit="logistic5"`."""
    # Without a fit, RMSE is defined for constant inputs too (e.g. a trivial baseline).
    p, h = _validate(pred, human, need_variation=fit is not None)
    if fit is not None:
        if fit != "logistic5":
            raise ValueError(f"unknown fit {fit!r}; use None or 'logistic5'")
        p = fit_logistic5(p, h)(p)
    return float(np.sqrt(np.mean((p - h) ** 2)))
