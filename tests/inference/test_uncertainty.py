"""Uncertainty of a level-word score: std of the level distribution and the ΔV interval (hand-computed values)."""

import math

import numpy as np
import pytest

from cdreasoning.inference.uncertainty import coverage_z, delta_v_interval, grade_interval, level_std


def _delta_v(grade: float) -> float:
    return 1.6036 * math.exp(0.5391 * grade) - 1.2943  # FACTS §2, independent of cdreasoning.scale


def test_std_hand_values():
    # (0, .5, .5, 0, 0): mean 1.875, deviations ±0.625 → std 0.625
    assert level_std([0, 0.5, 0.5, 0, 0]) == pytest.approx(0.625)
    # (.5, 0, 0, 0, .5): mean 2.5, deviations ±2.5 → std 2.5 (the largest possible)
    assert level_std([0.5, 0, 0, 0, 0.5]) == pytest.approx(2.5)
    # uniform: variance = mean of (0, 1.25, 2.5, 3.75, 5 − 2.5)² = (6.25 + 1.5625)·2/5 = 3.125
    assert level_std([0.2] * 5) == pytest.approx(math.sqrt(3.125))
    np.testing.assert_allclose(level_std([[0, 0, 1, 0, 0], [0, 0.5, 0.5, 0, 0]]), [0.0, 0.625])


def test_one_hot_has_zero_std_and_a_point_interval():
    assert level_std([0, 0, 0, 1, 0]) == 0.0
    low, high = delta_v_interval(3.75, 0.0)
    assert low == pytest.approx(_delta_v(3.75)) and high == pytest.approx(_delta_v(3.75))


def test_interval_at_80_percent():
    assert coverage_z(0.8) == pytest.approx(1.281552, abs=1e-6)  # normal table
    # score 1.875 ± 1.281552·0.625 = [1.074030, 2.675970]
    low, high = grade_interval(1.875, 0.625)
    assert (low, high) == (pytest.approx(1.074030, abs=1e-6), pytest.approx(2.675970, abs=1e-6))
    dv_low, dv_high = delta_v_interval(1.875, 0.625)
    assert dv_low == pytest.approx(_delta_v(1.074030), abs=1e-5)
    assert dv_high == pytest.approx(_delta_v(2.675970), abs=1e-5)
    # clipped to the weight range
    assert grade_interval(0.2, 1.0) == (0.0, pytest.approx(0.2 + 1.281552, abs=1e-6))
    with pytest.raises(ValueError, match="coverage"):
        coverage_z(1.0)


def test_scorer_results_carry_std_and_an_interval_that_contains_the_score(scorer, pair_folder):
    pairs = [(pair_folder / f"img{i}.png", pair_folder / f"img{i + 1}.png") for i in range(4)]
    for result in scorer.score_pairs(pairs, batch_size=2):
        probs = np.array(list(result.probabilities.values()))
        assert result.std == pytest.approx(level_std(probs), abs=1e-6)
        assert 0 <= result.std <= 2.5
        assert result.delta_v_low <= result.delta_v <= result.delta_v_high
        assert result.interval_coverage == 0.8
        d = result.to_dict()
        assert {"std", "delta_v_low", "delta_v_high"} <= set(d)
