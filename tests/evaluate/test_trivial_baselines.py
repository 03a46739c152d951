"""Honesty checks of the quickstart report: trivial baselines and collapse flags (hand-made inputs)."""

import json

import pytest

from cdreasoning.evaluate.trivial_baselines import constant_stress, description_checks, score_checks


def test_constant_stress_does_not_depend_on_the_constant():
    from cdreasoning.metrics import stress

    human = [1.0, 2.0, 4.0, 8.0]
    # STRESS of c·1 is the same for every c > 0; by hand for c = 1: F = 4/15,
    # Σ(1 − F·dv)² = (11/15)² + (7/15)² + (1/15)² + (17/15)² = 460/225; F²·Σdv² = 16/225 · 85
    # STRESS = 100·sqrt(460/1360) = 58.16
    assert constant_stress(human)["delta_v"] == pytest.approx(58.158, abs=1e-3)
    assert stress([3.0] * 4, human) == pytest.approx(58.158, abs=1e-3)


def test_score_checks_flag_a_model_that_answers_one_level(tmp_path):
    path = tmp_path / "scores.csv"
    lines = ["pair_index,image_a,image_b,human_delta_v,score,level,error"]
    # 10 pairs: human levels 8 × moderate (ΔV 5) and 2 × slight (ΔV 2); the model always says moderate
    for i in range(10):
        lines.append(f"{i},a{i}.png,b{i}.png,{5.0 if i < 8 else 2.0},2.5,moderate,")
    path.write_text("\n".join(lines) + "\n")
    c = score_checks(path)
    assert c["collapsed"] and c["top_level"] == "moderate" and c["top_level_share"] == 1.0
    assert c["level_accuracy"] == pytest.approx(0.8) == c["majority_level_accuracy"]


def test_description_checks_count_distinct_texts(tmp_path):
    path = tmp_path / "descriptions.jsonl"
    rows = [
        {"generated": "all slight", "predicted_severities": {"white_balance": "slight"},
         "reference_severities": {"white_balance": "slight" if i < 3 else "severe"}}
        for i in range(4)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    d = description_checks(path)
    assert (
        d["collapsed"] and d["distinct_texts"] == 1 and d["majority_severity_accuracy"] == pytest.approx(0.75)
    )
