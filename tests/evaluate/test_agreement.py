"""Explanation–score agreement: the rule on hand-made cases, and the annotated description report."""

import csv
import json

import pytest

from cdreasoning.constants import ATTRIBUTES
from cdreasoning.evaluate.agreement import annotate_description_report, explanation_agreement, judge


def _sev(*values):
    return dict(zip(ATTRIBUTES, values))


@pytest.mark.parametrize(
    ("level", "severities", "contradiction", "match"),
    [
        ("severe", _sev(*["slight"] * 7), True, False),  # the example of the issue
        ("significant", _sev("slight", "moderate"), False, False),
        ("significant", _sev("severe"), False, True),
        ("slight", _sev("slight", "severe"), True, False),
        ("negligible", _sev("slight", "slight"), False, True),
        ("moderate", _sev("slight"), False, False),  # moderate never contradicts
        ("moderate", _sev("moderate", "slight"), False, True),
    ],
)
def test_rule(level, severities, contradiction, match):
    verdict = judge(level, severities)
    assert verdict["contradiction"] is contradiction and verdict["match"] is match


def test_unrated_descriptions_are_not_counted():
    assert judge("severe", {}) == {"strongest": None, "contradiction": None, "match": None}
    result = explanation_agreement(
        [(4.8, "severe", _sev(*["slight"] * 7)), (1.0, "slight", _sev("slight")), (3.0, "moderate", {})],
        n_without_score=2,
    )
    assert result["n_pairs"] == 3 and result["n_unrated"] == 1 and result["n_without_score"] == 2
    assert result["contradictions"] == 1 and result["agreement"] == pytest.approx(0.5)
    assert result["match_share"] == pytest.approx(0.5)


def test_annotated_report_flags_contradictions(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "description_report", "metrics": {}}))
    lines = [
        {
            "id": "1",
            "images": ["a.png", "b.png"],
            "generated": "all slight",
            "predicted_severities": _sev("slight"),
        },
        {
            "id": "2",
            "images": ["a.png", "c.png"],
            "generated": "severe wb",
            "predicted_severities": _sev("severe"),
        },
        {"id": "3", "images": ["x.png", "y.png"], "generated": "?", "predicted_severities": {}},
    ]
    (tmp_path / "descriptions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "pair_index,image_a,image_b,score,level,error\n0,a.png,b.png,4.6,severe,\n1,a.png,c.png,4.0,significant,\n"
    )
    agreement = annotate_description_report(tmp_path, scores)
    assert (
        agreement["n_pairs"] == 2 and agreement["n_without_score"] == 1 and agreement["contradictions"] == 1
    )
    annotated = [json.loads(line) for line in (tmp_path / "descriptions.jsonl").read_text().splitlines()]
    assert [a["contradiction"] for a in annotated] == [True, False, None]
    with (tmp_path / "contradictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["1"] and rows[0]["level"] == "severe"
    assert json.loads((tmp_path / "metrics.json").read_text())["agreement"]["contradictions"] == 1


def test_a_csv_without_scores_is_refused(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "descriptions.jsonl").write_text("")
    bad = tmp_path / "bad.csv"
    bad.write_text("image_a,image_b\n")
    with pytest.raises(ValueError, match="missing column"):
        annotate_description_report(tmp_path, bad)
