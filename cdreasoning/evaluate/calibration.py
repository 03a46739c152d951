"""Is the model's uncertainty honest, and does it give the same answer both ways round?

    from cdreasoning.evaluate.calibration import calibration_metrics, consistency_metrics
    cal = calibration_metrics(score, std, human_delta_v)          # coverage, mean std, SRCC(std, |error|)
    con = consistency_metrics(forward, backward, identical)        # see below

**Calibration** (`calibration_metrics`), per pair: predicted grade μ (the Q-Align score), its std (the spread of
the level distribution, `cdreasoning.inference.uncertainty`) and the human grade G = grade_from_delta_v(ΔV):

- `coverage`: share of pairs whose human ΔV lies inside the model's interval at the nominal coverage
  (80 %, μ ± 1.2816·std clipped to [0, 5], mapped to ΔV — the same as lying inside the grade interval, since the
  mapping is monotone). Well calibrated: close to the nominal value. Far below: over-confident.
- `mean_std` (grade units), `rmse_grade` (of μ − G, what the std should be close to),
- `srcc_std_abs_error`: Spearman correlation between std and |μ − G|. Positive: the model is less sure where it
  is more wrong, which is what an uncertainty is for. Null when std is constant (e.g. a collapsed model).
- `reliability`: observed coverage at nominal 10 … 90 % (the reliability plot's left panel) and, by std
  quintile, the mean std against the observed RMS error (right panel; points on the diagonal are calibrated).

**Consistency** (`consistency_metrics`): a colour difference has no direction and an image does not differ
from itself. From the scores of each pair as (A, B) and as (B, A), and of (A, A) pairs:

- `mean_abs_swap_difference`: mean |s(A,B) − s(B,A)| (grade units), `level_flip_share`: share of pairs whose
  most likely level changes when swapped;
- `identical_mean_score` and `identical_mean_p_negligible` for (A, A); a sound model gives ≈ 0 and ≈ 1.

numpy only (matplotlib when the plot is drawn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning import metrics as M
from cdreasoning.scale import grade_from_delta_v

NOMINAL_COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _z(coverage: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf((1.0 + coverage) / 2.0)


def _inside(score, std, grade, coverage: float) -> np.ndarray:
    z = _z(coverage)
    low = np.clip(score - z * std, 0.0, 5.0)
    high = np.clip(score + z * std, 0.0, 5.0)
    # a human grade outside [0, 5] counts as inside when the interval reaches that end of the scale
    g = np.clip(grade, 0.0, 5.0)
    return (g >= low - 1e-12) & (g <= high + 1e-12)


def calibration_metrics(
    score: Sequence[float],
    std: Sequence[float],
    human_delta_v: Sequence[float],
    coverage: float = 0.8,
    ground_truth: str = "human",
) -> dict[str, Any]:
    """See the module docstring. All inputs are per pair; returns JSON-ready numbers (None when undefined).
    `ground_truth` ("human", or "proxy" on a synthetic set) names the ΔV in the printed lines and the plot."""
    mu = np.asarray(score, dtype=np.float64)
    sd = np.asarray(std, dtype=np.float64)
    grade = np.asarray(grade_from_delta_v(np.asarray(human_delta_v, dtype=np.float64)), dtype=np.float64)
    if not (mu.shape == sd.shape == grade.shape) or mu.ndim != 1 or len(mu) == 0:
        raise ValueError("score, std and human_delta_v must be equally long, non-empty sequences")
    error = np.abs(mu - np.clip(grade, 0.0, 5.0))
    out: dict[str, Any] = {
        "ground_truth": ground_truth,
        "n_pairs": len(mu),
        "nominal_coverage": coverage,
        "coverage": float(_inside(mu, sd, grade, coverage).mean()),
        "mean_std": float(sd.mean()),
        "rmse_grade": float(np.sqrt((error**2).mean())),
        "srcc_std_abs_error": None,
    }
    if len(mu) >= 3 and np.ptp(sd) > 1e-9 and np.ptp(error) > 1e-12:
        value = M.srcc(sd, error)
        out["srcc_std_abs_error"] = None if not math.isfinite(value) else float(value)
    out["reliability"] = {
        "nominal": list(NOMINAL_COVERAGES),
        "observed": [float(_inside(mu, sd, grade, c).mean()) for c in NOMINAL_COVERAGES],
        "std_bins": _std_bins(sd, error),
    }
    return out


def _std_bins(sd: np.ndarray, error: np.ndarray, n_bins: int = 5) -> list[dict[str, float]]:
    """Pairs grouped by std quantile: mean std vs observed RMS error per group (equal-count bins)."""
    order = np.argsort(sd, kind="stable")
    bins = []
    for chunk in np.array_split(order, min(n_bins, len(order))):
        if len(chunk):
            bins.append(
                {
                    "n": len(chunk),
                    "mean_std": float(sd[chunk].mean()),
                    "rms_error": float(np.sqrt((error[chunk] ** 2).mean())),
                }
            )
    return bins


def consistency_metrics(
    forward: Sequence[tuple[float, str]],
    backward: Sequence[tuple[float, str]],
    identical: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """forward[i] / backward[i]: (score, most likely level) of pair i as (A, B) and as (B, A);
    identical: (score, p_negligible) of (A, A) pairs. Returns JSON-ready numbers (None when undefined)."""
    if len(forward) != len(backward):
        raise ValueError(f"{len(forward)} forward but {len(backward)} swapped scores")
    out: dict[str, Any] = {
        "n_pairs": len(forward),
        "mean_abs_swap_difference": None,
        "level_flip_share": None,
        "n_identical": len(identical),
        "identical_mean_score": None,
        "identical_mean_p_negligible": None,
    }
    if forward:
        fwd = np.array([s for s, _ in forward], dtype=np.float64)
        bwd = np.array([s for s, _ in backward], dtype=np.float64)
        out["mean_abs_swap_difference"] = float(np.abs(fwd - bwd).mean())
        out["level_flip_share"] = float(np.mean([a != b for (_, a), (_, b) in zip(forward, backward)]))
    if identical:
        out["identical_mean_score"] = float(np.mean([s for s, _ in identical]))
        out["identical_mean_p_negligible"] = float(np.mean([p for _, p in identical]))
    return out


def format_calibration(calibration: dict[str, Any] | None, consistency: dict[str, Any] | None) -> str:
    """A few printable lines (for the eval score table and the quickstart report)."""

    def f(value, digits=3):
        return "n/a" if value is None else f"{value:.{digits}f}"

    lines = []
    if calibration:
        lines.append(
            f"calibration ({calibration['n_pairs']} pairs): {calibration.get('ground_truth', 'human')} ΔV inside the "
            f"{calibration['nominal_coverage']:.0%} interval for {f(calibration['coverage'])} of pairs; "
            f"mean std {f(calibration['mean_std'])} grade (RMS error {f(calibration['rmse_grade'])}); "
            f"SRCC(std, |error|) {f(calibration['srcc_std_abs_error'])}"
        )
    if consistency:
        lines.append(
            f"consistency ({consistency['n_pairs']} pairs swapped, {consistency['n_identical']} identical): "
            f"mean |s(A,B) − s(B,A)| {f(consistency['mean_abs_swap_difference'])}, level flips "
            f"{f(consistency['level_flip_share'])}; identical images: mean score "
            f"{f(consistency['identical_mean_score'])}, P(negligible) "
            f"{f(consistency['identical_mean_p_negligible'])}"
        )
    return "\n".join(lines)


def save_reliability_plot(calibration: dict[str, Any], path: str | Path, title: str) -> Path:
    """Two panels: observed vs nominal interval coverage, and observed RMS error vs mean std by std quintile."""
    from cdreasoning.evaluate.plots import _figure, _save

    fig = _figure(8.4, 3.8)
    left, right = fig.subplots(1, 2)
    rel = calibration["reliability"]
    left.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="calibrated")
    left.plot(rel["nominal"], rel["observed"], marker="o", linewidth=1.2, label="model")
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.set_xlabel("nominal coverage of μ ± z·std", fontsize=8)
    truth = calibration.get("ground_truth", "human")
    left.set_ylabel(f"share of pairs with the {truth} grade inside", fontsize=8)
    left.set_title(f"interval coverage (80 %: {calibration['coverage']:.2f})", fontsize=9)
    left.legend(fontsize=7, loc="upper left")
    bins = rel["std_bins"]
    xs = [b["mean_std"] for b in bins]
    ys = [b["rms_error"] for b in bins]
    top = max([*xs, *ys, 0.1]) * 1.1
    right.plot([0, top], [0, top], color="0.6", linestyle="--", linewidth=1)
    right.plot(xs, ys, marker="o", linewidth=1.2)
    right.set_xlim(0, top)
    right.set_ylim(0, top)
    right.set_xlabel("mean predicted std (grade), by std quintile", fontsize=8)
    right.set_ylabel("observed RMS error (grade)", fontsize=8)
    srcc = calibration["srcc_std_abs_error"]
    right.set_title(f"std vs error (SRCC {'n/a' if srcc is None else f'{srcc:.2f}'})", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def run_consistency(
    scorer,
    pairs: Sequence[tuple[str, str]],
    forward: Sequence[tuple[float, str] | None],
    *,
    identical: int = 50,
    batch_size: int = 16,
    num_workers: int = 0,
    image_folder=None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score every pair as (B, A) and up to `identical` images against themselves with `scorer` (a `CDScorer`).

    pairs[i] = (A, B) and forward[i] its (score, level) as (A, B) (already computed; None where it failed).
    The identical images are the distinct first images of the pairs, evenly spaced over the list (deterministic).
    Returns (consistency_metrics, per-pair rows for consistency.csv). Pairs whose images fail are left out.
    """
    swapped = [(b, a) for a, b in pairs]
    fwd, bwd, rows = [], [], []
    for index, result, error in scorer.iter_scores(swapped, batch_size, num_workers, image_folder):
        if error or forward[index] is None:
            continue
        f_score, f_level = forward[index]
        fwd.append((float(f_score), f_level))
        bwd.append((result.score, result.level))
        rows.append(
            {
                "kind": "swapped",
                "image_a": pairs[index][0],
                "image_b": pairs[index][1],
                "score_ab": float(f_score),
                "score_ba": result.score,
                "level_ab": f_level,
                "level_ba": result.level,
            }
        )
    firsts = list(dict.fromkeys(a for a, _ in pairs))
    if identical > 0 and firsts:
        step = max(1, len(firsts) // identical)
        firsts = firsts[::step][:identical]
    else:
        firsts = []
    same = []
    words = scorer.levels.words
    for index, result, error in scorer.iter_scores(
        [(a, a) for a in firsts], batch_size, num_workers, image_folder
    ):
        if error:
            continue
        p_lowest = result.probabilities[words[0]]
        same.append((result.score, p_lowest))
        rows.append(
            {
                "kind": "identical",
                "image_a": firsts[index],
                "image_b": firsts[index],
                "score_ab": result.score,
                "score_ba": result.score,
                "level_ab": result.level,
                "level_ba": result.level,
            }
        )
    return consistency_metrics(fwd, bwd, same), rows


def write_consistency_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    import csv

    path = Path(path)
    fields = ["kind", "image_a", "image_b", "score_ab", "score_ba", "level_ab", "level_ba"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path
