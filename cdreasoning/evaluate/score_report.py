"""The score report: agreement of per-pair colour-difference predictions with human ΔV, on the SPCD subsets.

    from cdreasoning.evaluate import ScoreRow, write_score_report
    rows = [ScoreRow("I0006_01_03.png", "I0006_01_04.png", human_delta_v=4.59, prediction=2.1, aligned=False,
                     level_probabilities=(0.1, 0.6, 0.2, 0.07, 0.03)), ...]
    report = write_score_report(rows, "runs/score", prediction_space="grade", method_name="cd-reasoning")

It is a pure function of the rows (no model, no images), used by the MLLM scorer (`prediction_space="grade"`:
the Q-Align score on the 0-5 grade scale G), the CIE / S-CIELAB baselines and CD-Flow (`"delta_v"`: a
prediction on the ΔV scale, e.g. a mean ΔE).

Subsets: all pairs, pixel-aligned pairs, not-aligned pairs (SPCD test: 5,975 = 3,980 + 1,995). A pair whose
alignment is unknown (`aligned=None`) counts in "all" only. A subset with fewer than 3 pairs is reported as
absent with the reason; a metric that is undefined on a subset (e.g. a constant prediction has no
correlation) is null with the reason under "errors" — the report never holds NaN and never crashes on them.

Two conventions, both reported where they apply:

- level space, no fit (as CD-Reasoning): the human ΔV is mapped to the grade
  G = ln((ΔV + 1.2943)/1.6036)/0.5391 (`cdreasoning.scale.grade_from_delta_v`) and compared with the
  predicted grade directly: PLCC, SRCC, KRCC, STRESS, RMSE without any fit. Only for
  `prediction_space="grade"` (a ΔV-scale prediction has no level score). With level probabilities, also
  `level_accuracy`: argmax level vs the M-SPCD level of the human ΔV.
- ΔV space (as SPCD / CD-Flow): a grade prediction is first mapped to ΔV with `delta_v_from_grade`; STRESS on
  ΔV directly; PLCC and RMSE after the 5-parameter logistic fit of the predictions to the human ΔV
  (`cdreasoning.metrics.fit_logistic5`, fitted per subset; null with the reason below 5 pairs); SRCC and KRCC
  on the raw predictions.

Files written by `write_score_report`: metrics.json (this report), predictions.csv (one row per pair, every
field, full float precision), scatter.png (prediction vs human per subset and convention, logistic curve
drawn, metrics in the titles), and the table printed to stdout.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning import metrics as M
from cdreasoning.constants import CD_LEVELS
from cdreasoning.scale import delta_v_from_grade, grade_from_delta_v, level_index_from_delta_v

__all__ = [
    "PREDICTION_SPACES",
    "SUBSETS",
    "ScoreRow",
    "format_score_table",
    "load_score_report",
    "read_score_predictions",
    "score_metrics",
    "write_score_report",
]

PREDICTION_SPACES = ("grade", "delta_v")
SUBSETS = ("all", "aligned", "not_aligned")
MIN_PAIRS = 3
MIN_FIT_PAIRS = 5
METRIC_NAMES = ("stress", "plcc", "srcc", "krcc", "rmse")
CONVENTIONS = {
    "level": "level space, no fit (CD-Reasoning): human ΔV → grade G; PLCC/SRCC/KRCC/STRESS/RMSE of the "
    "predicted grade against G without any fit",
    "delta_v": "ΔV space (SPCD / CD-Flow): predictions on the ΔV scale (a grade mapped by "
    "delta_v_from_grade); "
    "STRESS on ΔV; PLCC and RMSE after the 5-parameter logistic fit; SRCC/KRCC on raw predictions",
}
PROBABILITY_COLUMNS = tuple(f"p_{level}" for level in CD_LEVELS)


@dataclass(frozen=True)
class ScoreRow:
    """One scored pair.

    human_delta_v: the SPCD ground truth ΔV (> 0).
    prediction: on the grade scale G (0-5, the MLLM score) or the ΔV scale (ΔE, CD-Flow), as the report's
        `prediction_space` says.
    aligned: pixel-aligned pair (True), not aligned (False), or unknown (None: counted in "all" only).
    level_probabilities: optional probabilities of the five CD levels (negligible … severe), summing to 1.
    """

    image_a: str
    image_b: str
    human_delta_v: float
    prediction: float
    aligned: bool | None = None
    level_probabilities: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        where = f"pair ({self.image_a!r}, {self.image_b!r})"
        if not self.image_a or not self.image_b:
            raise ValueError(f"{where}: empty image name")
        for name in ("human_delta_v", "prediction"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: {name} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise ValueError(f"{where}: {name} must be finite, got {value!r}")
            object.__setattr__(self, name, number)
        if self.human_delta_v <= 0:
            raise ValueError(f"{where}: human ΔV must be positive, got {self.human_delta_v!r}")
        if self.aligned is not None:
            if not isinstance(self.aligned, (bool, np.bool_)):
                raise ValueError(f"{where}: aligned must be True, False or None, got {self.aligned!r}")
            object.__setattr__(self, "aligned", bool(self.aligned))
        if self.level_probabilities is not None:
            probs = tuple(float(p) for p in self.level_probabilities)
            if len(probs) != len(CD_LEVELS) or not all(math.isfinite(p) and p >= 0 for p in probs):
                raise ValueError(
                    f"{where}: level_probabilities must be {len(CD_LEVELS)} finite non-negative numbers,"
                    f" got {self.level_probabilities!r}"
                )
            if abs(sum(probs) - 1.0) > 1e-3:
                raise ValueError(f"{where}: level_probabilities sum to {sum(probs):.6f}, not 1")
            object.__setattr__(self, "level_probabilities", probs)

    @property
    def key(self) -> tuple[str, str]:
        return (self.image_a, self.image_b)


# --- metrics ------------------------------------------------------------------------------------------------


def _subset_rows(rows: Sequence[ScoreRow], subset: str) -> list[ScoreRow]:
    if subset == "all":
        return list(rows)
    want = subset == "aligned"
    return [r for r in rows if r.aligned is want]


def _safe(block: dict[str, Any], errors: dict[str, str], name: str, fn: Callable[[], float]) -> None:
    try:
        block[name] = float(fn())
    except ValueError as err:
        block[name] = None
        errors[name] = str(err)


def _level_block(rows: Sequence[ScoreRow]) -> dict[str, Any]:
    pred = np.array([r.prediction for r in rows])
    human = np.asarray(grade_from_delta_v(np.array([r.human_delta_v for r in rows])))
    block: dict[str, Any] = {}
    errors: dict[str, str] = {}
    _safe(block, errors, "stress", lambda: M.stress(pred, human))
    _safe(block, errors, "plcc", lambda: M.plcc(pred, human))
    _safe(block, errors, "srcc", lambda: M.srcc(pred, human))
    _safe(block, errors, "krcc", lambda: M.krcc(pred, human))
    _safe(block, errors, "rmse", lambda: M.rmse(pred, human))
    if all(r.level_probabilities is not None for r in rows):
        predicted = [int(np.argmax(r.level_probabilities)) for r in rows]
        truth = [level_index_from_delta_v(r.human_delta_v) for r in rows]
        block["level_accuracy"] = float(np.mean([p == t for p, t in zip(predicted, truth)]))
    if errors:
        block["errors"] = errors
    return block


def _prediction_delta_v(rows: Sequence[ScoreRow], prediction_space: str) -> np.ndarray:
    pred = np.array([r.prediction for r in rows], dtype=np.float64)
    return np.asarray(delta_v_from_grade(pred)) if prediction_space == "grade" else pred


def _delta_v_block(rows: Sequence[ScoreRow], prediction_space: str) -> dict[str, Any]:
    pred = _prediction_delta_v(rows, prediction_space)
    human = np.array([r.human_delta_v for r in rows])
    block: dict[str, Any] = {}
    errors: dict[str, str] = {}
    _safe(block, errors, "stress", lambda: M.stress(pred, human))
    _safe(block, errors, "srcc", lambda: M.srcc(pred, human))
    _safe(block, errors, "krcc", lambda: M.krcc(pred, human))
    if len(rows) < MIN_FIT_PAIRS:  # five parameters cannot be fitted to fewer points
        why = f"the 5-parameter logistic fit needs at least {MIN_FIT_PAIRS} pairs, got {len(rows)}"
        for name in ("plcc", "rmse", "logistic5"):
            block[name] = None
            errors[name] = why
    else:
        _safe(block, errors, "plcc", lambda: M.plcc(pred, human, fit="logistic5"))
        _safe(block, errors, "rmse", lambda: M.rmse(pred, human, fit="logistic5"))
        try:
            block["logistic5"] = list(M.fit_logistic5(pred, human).params)
        except ValueError as err:
            block["logistic5"] = None
            errors["logistic5"] = str(err)
    block = {key: block[key] for key in ("stress", "plcc", "srcc", "krcc", "rmse", "logistic5")}
    if errors:
        block["errors"] = errors
    return block


def score_metrics(rows: Sequence[ScoreRow], prediction_space: str) -> dict[str, dict[str, Any]]:
    """{subset: {"n_pairs", "level" (grade predictions only), "delta_v"} or {"n_pairs", "absent": reason}}."""
    if prediction_space not in PREDICTION_SPACES:
        raise ValueError(f"prediction_space must be one of {PREDICTION_SPACES}, got {prediction_space!r}")
    rows = list(rows)
    if not rows:
        raise ValueError("no scored pairs")
    for i, row in enumerate(rows):
        if not isinstance(row, ScoreRow):
            raise TypeError(f"row {i} is a {type(row).__name__}, not a ScoreRow")
    n_unknown = sum(r.aligned is None for r in rows)
    out: dict[str, dict[str, Any]] = {}
    for subset in SUBSETS:
        chosen = _subset_rows(rows, subset)
        entry: dict[str, Any] = {"n_pairs": len(chosen)}
        if len(chosen) < MIN_PAIRS:
            if subset != "all" and n_unknown == len(rows):
                entry["absent"] = "pixel alignment unknown for every pair (image names are not SPCD names)"
            else:
                entry["absent"] = f"only {len(chosen)} pair(s); at least {MIN_PAIRS} are needed"
        else:
            if prediction_space == "grade":
                entry["level"] = _level_block(chosen)
            entry["delta_v"] = _delta_v_block(chosen, prediction_space)
        if subset == "all" and n_unknown:
            entry["note"] = f"{n_unknown} pair(s) of unknown alignment count in 'all' only"
        out[subset] = entry
    return out


# --- files --------------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_score_table(report: dict[str, Any]) -> str:
    """A plain-text table of a report produced by `write_score_report` (or `score_metrics` wrapped in one)."""
    header = (
        f"{'convention':<16}{'subset':<13}{'pairs':>6}"
        f"{'STRESS↓':>9}{'PLCC↑':>8}{'SRCC↑':>8}{'KRCC↑':>8}{'RMSE↓':>8}"
    )
    lines = [
        f"score metrics — {report['method']} (predictions on the {report['prediction_space']} scale)",
        header,
        "-" * len(header),
    ]
    for convention, label in (("level", "level, no fit"), ("delta_v", "ΔV, logistic")):
        for subset in SUBSETS:
            entry = report["subsets"][subset]
            if "absent" in entry:
                if convention == "delta_v" or report["prediction_space"] == "grade":
                    lines.append(f"{label:<16}{subset:<13}{entry['n_pairs']:>6}  absent: {entry['absent']}")
                continue
            if convention not in entry:
                continue
            b = entry[convention]
            lines.append(
                f"{label:<16}{subset:<13}{entry['n_pairs']:>6}{_fmt(b['stress'], 2):>9}{_fmt(b['plcc']):>8}"
                f"{_fmt(b['srcc']):>8}{_fmt(b['krcc']):>8}{_fmt(b['rmse']):>8}"
                + (f"  level acc {b['level_accuracy']:.4f}" if "level_accuracy" in b else "")
            )
            by_reason: dict[str, list[str]] = {}
            for name, why in b.get("errors", {}).items():
                by_reason.setdefault(why, []).append(name)
            for why, names in by_reason.items():
                lines.append(f"{'':<35}{', '.join(names)}: {why}")
    return "\n".join(lines)


def _write_predictions_csv(rows: Sequence[ScoreRow], prediction_space: str, path: Path) -> None:
    has_probs = any(r.level_probabilities is not None for r in rows)
    pred_dv = _prediction_delta_v(rows, prediction_space)
    fields = [
        "image_a",
        "image_b",
        "aligned",
        "human_delta_v",
        "human_grade",
        "human_level",
        "prediction",
        "prediction_delta_v",
    ]
    if has_probs:
        fields += ["predicted_level", *PROBABILITY_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for row, dv in zip(rows, pred_dv):
            line = [
                row.image_a,
                row.image_b,
                "" if row.aligned is None else str(row.aligned).lower(),
                repr(float(row.human_delta_v)),
                repr(float(grade_from_delta_v(row.human_delta_v))),
                CD_LEVELS[level_index_from_delta_v(row.human_delta_v)],
                repr(float(row.prediction)),
                repr(float(dv)),
            ]
            if has_probs:
                probs = row.level_probabilities
                line += (
                    ["", *[""] * len(CD_LEVELS)]
                    if probs is None
                    else [CD_LEVELS[int(np.argmax(probs))], *[repr(p) for p in probs]]
                )
            writer.writerow(line)


def read_score_predictions(path: str | Path) -> list[ScoreRow]:
    """Rows back from a predictions.csv written by `write_score_report` (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    rows: list[ScoreRow] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        required = {"image_a", "image_b", "aligned", "human_delta_v", "prediction"}
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a score predictions file (missing columns {sorted(missing)})")
        has_probs = all(c in reader.fieldnames for c in PROBABILITY_COLUMNS)
        for line_no, rec in enumerate(reader, start=2):
            try:
                aligned = {"true": True, "false": False, "": None}[rec["aligned"].strip().lower()]
                probs = None
                if has_probs and rec[PROBABILITY_COLUMNS[0]] != "":
                    probs = tuple(float(rec[c]) for c in PROBABILITY_COLUMNS)
                rows.append(
                    ScoreRow(
                        rec["image_a"],
                        rec["image_b"],
                        float(rec["human_delta_v"]),
                        float(rec["prediction"]),
                        aligned,
                        probs,
                    )
                )
            except (KeyError, ValueError, TypeError, AttributeError) as err:
                raise ValueError(f"{path}:{line_no}: bad row {rec!r}: {err}") from None
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def load_score_report(result_dir: str | Path) -> tuple[dict[str, Any], list[ScoreRow]]:
    """(metrics.json content, predictions.csv rows) of a result directory written by `write_score_report`."""
    result_dir = Path(result_dir)
    metrics_path = result_dir / "metrics.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{result_dir}: no metrics.json (not a result directory)")
    try:
        report = json.loads(metrics_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{metrics_path}: not valid JSON ({err})") from None
    if report.get("kind") != "score_report":
        raise ValueError(f"{metrics_path}: not a score report (kind {report.get('kind')!r})")
    return report, read_score_predictions(result_dir / "predictions.csv")


def ground_truth_name(config: dict[str, Any]) -> str:
    """ "proxy" when the evaluated pair list belongs to a synthetic set (`cdreasoning data synth` writes
    synth_meta.json at the set's root, beside test.csv and above score_task/test_data.json: its ΔV is a
    CIELAB-based proxy, not human judgement), else "human"."""
    for key in ("data", "pairs_csv"):
        value = config.get(key)
        if isinstance(value, str | Path):
            pair_list = Path(value)
            if any(
                (folder / "synth_meta.json").is_file()
                for folder in (pair_list.parent, pair_list.parent.parent)
            ):
                return "proxy"
    return "human"


def _scatter_panels(rows: Sequence[ScoreRow], report: dict[str, Any]):
    from cdreasoning.evaluate.plots import ScatterPanel

    truth = report.get("ground_truth", "human")
    space = report["prediction_space"]
    grid = []
    conventions = ["level", "delta_v"] if space == "grade" else ["delta_v"]
    for convention in conventions:
        panels = []
        for subset in SUBSETS:
            entry = report["subsets"][subset]
            name = f"{subset} (n={entry['n_pairs']})"
            if "absent" in entry:
                panels.append(
                    ScatterPanel(title=f"{name}: {convention}", absent=f"absent: {entry['absent']}")
                )
                continue
            b = entry[convention]
            chosen = _subset_rows(rows, subset)
            human_dv = np.array([r.human_delta_v for r in chosen])
            metrics_line = (
                f"STRESS {_fmt(b['stress'], 2)}  PLCC {_fmt(b['plcc'], 3)}  SRCC {_fmt(b['srcc'], 3)}"
            )
            if convention == "level":
                panels.append(
                    ScatterPanel(
                        title=f"{name}, level space (no fit)\n{metrics_line}",
                        x=[r.prediction for r in chosen],
                        y=np.asarray(grade_from_delta_v(human_dv)),
                        xlabel="predicted grade G",
                        ylabel=f"{truth} grade G (from ΔV)",
                        identity=True,
                    )
                )
            else:
                x = _prediction_delta_v(chosen, space)
                curve = None
                if b.get("logistic5"):
                    xs = np.linspace(float(x.min()), float(x.max()), 200)
                    curve = (xs, M.logistic5(xs, *b["logistic5"]))
                panels.append(
                    ScatterPanel(
                        title=f"{name}, ΔV space (PLCC after logistic fit)\n{metrics_line}",
                        x=x,
                        y=human_dv,
                        curve=curve,
                        xlabel="predicted ΔV" + (" (from grade)" if space == "grade" else ""),
                        ylabel=f"{truth} ΔV",
                    )
                )
        grid.append(panels)
    return grid


def write_score_report(
    rows: Sequence[ScoreRow],
    out_dir: str | Path,
    *,
    prediction_space: str,
    method_name: str,
    config: dict[str, Any] | None = None,
    echo: bool = True,
) -> dict[str, Any]:
    """Compute `score_metrics` and write metrics.json, predictions.csv and scatter.png into `out_dir`.

    Returns the report dict (what metrics.json holds): kind, method, prediction_space, n_pairs,
    conventions, config, subsets. Prints the table when `echo`.
    """
    rows = list(rows)
    subsets = score_metrics(rows, prediction_space)
    report = {
        "kind": "score_report",
        "method": method_name,
        "prediction_space": prediction_space,
        "n_pairs": len(rows),
        "conventions": {
            k: v for k, v in CONVENTIONS.items() if prediction_space == "grade" or k == "delta_v"
        },
        "config": dict(config or {}),
        "ground_truth": ground_truth_name(dict(config or {})),
        "subsets": subsets,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    _write_predictions_csv(rows, prediction_space, out_dir / "predictions.csv")

    from cdreasoning.evaluate.plots import save_scatter_panels

    save_scatter_panels(
        _scatter_panels(rows, report),
        out_dir / "scatter.png",
        f"{method_name}: prediction vs {report['ground_truth']} ΔV ({len(rows)} pairs)",
    )
    if echo:
        print(format_score_table(report))
        print(f"report written to {out_dir}")
    return report
