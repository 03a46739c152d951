import json
import math

import numpy as np
import pytest

from cdreasoning.constants import CD_LEVELS, SCORE_QUESTIONS
from cdreasoning.scale import (
    LEVEL_BOUNDARIES_DELTA_V,
    delta_v_from_grade,
    grade_from_delta_v,
    level_from_delta_v,
    level_index_from_delta_v,
)
from tests.conftest import shared_path


def test_grade_and_delta_v_are_inverse():
    dv = np.linspace(0.5, 20.0, 101)
    assert np.allclose(delta_v_from_grade(grade_from_delta_v(dv)), dv)
    assert math.isclose(grade_from_delta_v(delta_v_from_grade(2.5)), 2.5)


def test_boundaries_are_two_decimal_delta_v_of_integer_grades():
    assert LEVEL_BOUNDARIES_DELTA_V == (1.46, 3.42, 6.79, 12.56)
    for g, boundary in enumerate(LEVEL_BOUNDARIES_DELTA_V, start=1):
        assert abs(delta_v_from_grade(g) - boundary) < 0.005


@pytest.mark.parametrize(
    "dv, level",
    [
        (0.93, "negligible"),
        (1.4599, "negligible"),
        (1.46, "slight"),
        (3.419, "slight"),
        (4.4, "moderate"),
        (6.7876, "moderate"),
        (6.79, "significant"),
        (12.56, "severe"),
        (16.2, "severe"),
    ],
)
def test_levels(dv, level):
    assert level_from_delta_v(dv) == level
    assert CD_LEVELS[level_index_from_delta_v(dv)] == level


def test_invalid_delta_v_raises():
    with pytest.raises(ValueError):
        grade_from_delta_v(-2.0)
    with pytest.raises(ValueError):
        level_from_delta_v(float("nan"))


@pytest.mark.parametrize("name", ["test_aligned_data.json", "test_notaligned_data.json"])
def test_levels_reproduce_every_real_m_spcd_label(name):
    records = json.loads(shared_path("data", "m-spcd", "score_task", name).read_text())
    wrong = [
        r["id"]
        for r in records
        if r["conversations"][1]["value"].rsplit(" ", 1)[1].rstrip(".") != level_from_delta_v(r["gt_score"])
    ]
    assert wrong == []
    questions = {r["conversations"][0]["value"].split("\n", 1)[1] for r in records}
    assert questions == set(SCORE_QUESTIONS)
