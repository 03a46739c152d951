"""The score report on synthetic rows: values equal direct metrics calls, subsets, files, plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cdreasoning import metrics as M
from cdreasoning.evaluate import (
    ScoreRow,
    load_score_report,
    read_score_predictions,
    score_metrics,
    write_score_report,
)
from cdreasoning.scale import delta_v_from_grade, grade_from_delta_v


def _rows(n_aligned=30, n_not=12, seed=0, with_probs=True):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_aligned + n_not):
        aligned = i < n_aligned
        dv = float(rng.uniform(0.9, 16.0))
        grade = float(np.clip(grade_from_delta_v(dv) + rng.normal(0, 0.5), 0, 5))
        probs = None
        if with_probs:
            logits = -((np.arange(5) * 1.25 - grade) ** 2)
            probs = tuple(np.exp(logits) / np.exp(logits).sum())
        group = "02" if aligned else "01"
        rows.append(ScoreRow(f"I{i:04d}_01_01.png", f"I{i:04d}_{group}_02.png", dv, grade, aligned, probs))
    return rows


def test_metrics_equal_direct_calls():
    rows = _rows()
    out = score_metrics(rows, "grade")
    for subset, chosen in (("all", rows), ("aligned", rows[:30]), ("not_aligned", rows[30:])):
        pred = np.array([r.prediction for r in chosen])
        human_dv = np.array([r.human_delta_v for r in chosen])
        human_g = grade_from_delta_v(human_dv)
        entry = out[subset]
        assert entry["n_pairs"] == len(chosen)
        level = entry["level"]
        assert level["plcc"] == pytest.approx(M.plcc(pred, human_g))
        assert level["srcc"] == pytest.approx(M.srcc(pred, human_g))
        assert level["krcc"] == pytest.approx(M.krcc(pred, human_g))
        assert level["stress"] == pytest.approx(M.stress(pred, human_g))
        assert level["rmse"] == pytest.approx(M.rmse(pred, human_g))
        pred_dv = delta_v_from_grade(pred)
        dv = entry["delta_v"]
        assert dv["stress"] == pytest.approx(M.stress(pred_dv, human_dv))
        assert dv["plcc"] == pytest.approx(M.plcc(pred_dv, human_dv, fit="logistic5"))
        assert dv["rmse"] == pytest.approx(M.rmse(pred_dv, human_dv, fit="logistic5"))
        assert dv["srcc"] == pytest.approx(M.srcc(pred_dv, human_dv))
        assert dv["srcc"] == pytest.approx(level["srcc"])  # a monotone mapping keeps the ranks
        assert 0.0 <= level["level_accuracy"] <= 1.0


def test_delta_v_predictions_have_no_level_space():
    rows = [
        ScoreRow(r.image_a, r.image_b, r.human_delta_v, r.human_delta_v * 1.3 + 0.5, r.aligned)
        for r in _rows()
    ]
    out = score_metrics(rows, "delta_v")
    assert "level" not in out["all"]
    assert out["all"]["delta_v"]["srcc"] == pytest.approx(1.0)
    # ΔE = 1.3 ΔV + 0.5 is not proportional: STRESS > 0, but the logistic+linear fit is exact.
    assert out["all"]["delta_v"]["stress"] > 1.0
    assert out["all"]["delta_v"]["plcc"] == pytest.approx(1.0, abs=1e-6)
    proportional = [
        ScoreRow(r.image_a, r.image_b, r.human_delta_v, 2 * r.human_delta_v, r.aligned) for r in rows
    ]
    assert score_metrics(proportional, "delta_v")["all"]["delta_v"]["stress"] == pytest.approx(0.0, abs=1e-9)


def test_small_and_unknown_subsets_are_absent_with_reason():
    rows = _rows(n_aligned=10, n_not=2, with_probs=False)
    out = score_metrics(rows, "grade")
    assert out["not_aligned"] == {"n_pairs": 2, "absent": "only 2 pair(s); at least 3 are needed"}
    unknown = [ScoreRow(f"a{i}.png", f"b{i}.png", r.human_delta_v, r.prediction) for i, r in enumerate(rows)]
    out = score_metrics(unknown, "grade")
    assert "image names are not SPCD names" in out["aligned"]["absent"]
    assert out["all"]["n_pairs"] == 12 and "12 pair(s) of unknown alignment" in out["all"]["note"]


def test_logistic_fit_needs_five_pairs():
    rows = _rows(n_aligned=10, n_not=4, with_probs=False)
    entry = score_metrics(rows, "grade")["not_aligned"]
    assert entry["n_pairs"] == 4
    dv = entry["delta_v"]
    assert dv["plcc"] is None and dv["rmse"] is None and "at least 5 pairs" in dv["errors"]["plcc"]
    assert dv["stress"] is not None and dv["srcc"] is not None
    assert entry["level"]["plcc"] is not None  # level space has no fit


def test_constant_prediction_is_reported_not_crashed():
    rows = [ScoreRow(r.image_a, r.image_b, r.human_delta_v, 2.5, r.aligned) for r in _rows(with_probs=False)]
    level = score_metrics(rows, "grade")["all"]["level"]
    assert level["plcc"] is None and "constant" in level["errors"]["plcc"]
    assert level["stress"] is not None  # STRESS is defined for a constant prediction


def test_files_and_round_trip(tmp_path, capsys):
    rows = _rows()
    report = write_score_report(
        rows, tmp_path / "out", prediction_space="grade", method_name="toy", config={"checkpoint": "x"}
    )
    printed = capsys.readouterr().out
    assert "toy" in printed and "level, no fit" in printed and "ΔV, logistic" in printed
    on_disk = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["kind"] == "score_report" and on_disk["config"] == {"checkpoint": "x"}
    with (tmp_path / "out" / "predictions.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows)
    assert table[0]["image_a"] == rows[0].image_a and float(table[0]["prediction"]) == rows[0].prediction
    assert float(table[0]["prediction_delta_v"]) == pytest.approx(delta_v_from_grade(rows[0].prediction))
    assert table[-1]["aligned"] == "false" and table[0]["human_level"] in (
        "negligible",
        "slight",
        "moderate",
        "significant",
        "severe",
    )
    back = read_score_predictions(tmp_path / "out" / "predictions.csv")
    assert back == rows  # full precision, probabilities included
    loaded, loaded_rows = load_score_report(tmp_path / "out")
    assert loaded["method"] == "toy" and loaded_rows == rows
    png = (tmp_path / "out" / "scatter.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"human_delta_v": 0.0}, "must be positive"),
        ({"human_delta_v": float("nan")}, "must be finite"),
        ({"prediction": "abc"}, "must be a number"),
        ({"aligned": "yes"}, "aligned must be"),
        ({"level_probabilities": (0.5, 0.5)}, "5 finite non-negative"),
        ({"level_probabilities": (0.5, 0.5, 0.5, 0.0, 0.0)}, "sum to 1.5"),
        ({"image_a": ""}, "empty image name"),
    ],
)
def test_bad_rows(kwargs, message):
    base = {"image_a": "a.png", "image_b": "b.png", "human_delta_v": 1.0, "prediction": 1.0}
    with pytest.raises(ValueError, match=message):
        ScoreRow(**{**base, **kwargs})


def test_bad_calls(tmp_path):
    with pytest.raises(ValueError, match="prediction_space"):
        score_metrics(_rows(), "levels")
    with pytest.raises(ValueError, match="no scored pairs"):
        score_metrics([], "grade")
    bad = tmp_path / "predictions.csv"
    bad.write_text("image_a,image_b,aligned,human_delta_v,prediction\na.png,b.png,maybe,1.0,2.0\n")
    with pytest.raises(ValueError, match=r"predictions.csv:2: bad row"):
        read_score_predictions(bad)
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        load_score_report(tmp_path)
