"""Calibration and consistency of level-word scores: hand-computed metrics and `eval score --consistency`."""

import csv
import json
import math

import pytest

from cdreasoning.evaluate.calibration import calibration_metrics, consistency_metrics


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("synth-calibration") / "set"
    synthesize(out, scenes=4, seed=2, size=64, pairs_per_scene=6)
    return out


def _delta_v(grade: float) -> float:
    return 1.6036 * math.exp(0.5391 * grade) - 1.2943  # FACTS §2


def test_calibration_hand_values():
    # four pairs: predicted grade, std, human grade. 80 % interval = μ ± 1.2816·std:
    # (2, .5, 2.5) → [1.359, 2.641] inside; (1, .1, 2) → [0.872, 1.128] outside;
    # (3, 1, 4) → [1.718, 4.282] inside; (4, 0, 4) → [4, 4] inside → coverage 3/4
    score, std, grade = [2, 1, 3, 4], [0.5, 0.1, 1.0, 0.0], [2.5, 2, 4, 4]
    cal = calibration_metrics(score, std, [_delta_v(g) for g in grade])
    assert cal["coverage"] == pytest.approx(0.75)
    assert cal["mean_std"] == pytest.approx(0.4)
    # |errors| = .5, 1, 1, 0 → RMS = sqrt(2.25/4) = 0.75
    assert cal["rmse_grade"] == pytest.approx(0.75, abs=1e-9)
    # ranks of std (.5, .1, 1, 0) = (3, 2, 4, 1); of |error| (.5, 1, 1, 0) = (2, 3.5, 3.5, 1)
    # Pearson of the ranks: deviations (.5, −.5, 1.5, −1.5) and (−.5, 1, 1, −1.5) → 3 / sqrt(5 · 4.5) = 0.632456
    assert cal["srcc_std_abs_error"] == pytest.approx(0.632456, abs=1e-6)
    assert cal["reliability"]["nominal"][-2] == 0.8 and cal["reliability"]["observed"][-2] == 0.75


def test_constant_std_has_no_correlation():
    cal = calibration_metrics([1, 2, 3], [0, 0, 0], [_delta_v(1), _delta_v(2.5), _delta_v(3)])
    assert cal["srcc_std_abs_error"] is None and cal["mean_std"] == 0
    assert cal["coverage"] == pytest.approx(2 / 3)  # zero-width intervals hold only the exact hits


def test_consistency_hand_values():
    con = consistency_metrics(
        [(1.0, "slight"), (2.5, "moderate"), (4.0, "significant")],
        [(1.5, "slight"), (2.0, "slight"), (4.0, "significant")],
        [(0.2, 0.9), (0.4, 0.7)],
    )
    assert con["mean_abs_swap_difference"] == pytest.approx(1 / 3)  # (.5 + .5 + 0) / 3
    assert con["level_flip_share"] == pytest.approx(1 / 3)
    assert con["identical_mean_score"] == pytest.approx(0.3)
    assert con["identical_mean_p_negligible"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="swapped"):
        consistency_metrics([(1.0, "slight")], [])


def test_eval_score_consistency_on_the_tiny_model(tiny_checkpoint, synth_set, tmp_path, capsys):
    from cdreasoning.cli import main

    out = tmp_path / "score"
    data = synth_set / "score_task" / "test_data.json"
    argv = ["eval", "score", "--model-path", str(tiny_checkpoint), "--device", "cpu", "--data", str(data),
            "--image-folder", str(synth_set / "images"), "--out", str(out), "--batch-size", "8",
            "--consistency", "--identical-pairs", "3"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "metrics.json").read_text())
    n = len(json.loads(data.read_text()))
    cal, con = report["calibration"], report["consistency"]
    assert cal["n_pairs"] == n and 0 <= cal["coverage"] <= 1 and cal["mean_std"] >= 0
    # the synthetic set's ΔV is a proxy, and the report says so (its JSON, its plot label, its printed line)
    assert report["ground_truth"] == cal["ground_truth"] == "proxy"
    assert con["n_pairs"] == n and con["n_identical"] == 3
    assert 0 <= con["level_flip_share"] <= 1 and con["mean_abs_swap_difference"] >= 0
    assert 0 <= con["identical_mean_p_negligible"] <= 1
    assert (out / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"calibration ({n} pairs): proxy ΔV inside the 80% interval" in capsys.readouterr().out
    with (out / "consistency.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sum(r["kind"] == "swapped" for r in rows) == n and sum(r["kind"] == "identical" for r in rows) == 3
    with (out / "scores.csv").open() as handle:
        for row in csv.DictReader(handle):
            assert float(row["delta_v_low"]) <= float(row["delta_v"]) <= float(row["delta_v_high"])


def test_eval_describe_with_scores_reports_agreement(tiny_checkpoint, synth_set, tmp_path):
    from cdreasoning.cli import main

    records = json.loads((synth_set / "depict_task" / "depict_test.json").read_text())[:2]
    data = tmp_path / "depict.json"
    data.write_text(json.dumps(records))
    scores = tmp_path / "scores.csv"
    with scores.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pair_index", "image_a", "image_b", "score", "level", "error"])
        for i, record in enumerate(records):
            writer.writerow([i, record["image"][0], record["image"][1], 4.9, "severe", ""])
    out = tmp_path / "describe"
    argv = ["eval", "describe", "--model-path", str(tiny_checkpoint), "--device", "cpu", "--data", str(data),
            "--image-folder", str(synth_set / "images"), "--out", str(out), "--max-new-tokens", "8",
            "--scores", str(scores)]  # fmt: skip
    assert main(argv) == 0
    agreement = json.loads((out / "metrics.json").read_text())["agreement"]
    assert agreement["n_pairs"] == 2 and agreement["n_without_score"] == 0
    assert (out / "contradictions.csv").exists()
    lines = [json.loads(line) for line in (out / "descriptions.jsonl").read_text().splitlines()]
    assert all(line["level"] == "severe" and "contradiction" in line for line in lines)
