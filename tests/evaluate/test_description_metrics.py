"""Description metrics on hand-made cases whose values are worked out by hand in the comments."""

from __future__ import annotations

import json

import pytest

from cdreasoning.constants import ATTRIBUTE_LABELS, ATTRIBUTES
from cdreasoning.evaluate import (
    description_metrics,
    write_description_report,
    write_description_report_from_records,
)
from tests.conftest import shared_path

ALL = list(ATTRIBUTES)


def _text(severities: dict[str, str]) -> str:
    return ", ".join(f"{sev} {ATTRIBUTE_LABELS[attr]}" for attr, sev in severities.items()) + "."


REFS = [
    dict.fromkeys(ALL, "slight"),
    {**dict.fromkeys(ALL, "slight"), "white_balance": "moderate"},
    dict.fromkeys(ALL, "severe"),
]
PREDS = [
    "Slight white balance, moderate overall color.",  # 1 right, 1 wrong, 5 unrated
    _text(dict.fromkeys(ALL, "slight")),  # white balance wrong (moderate → slight), 6 right
    _text(dict.fromkeys(ALL, "severe")),  # all 7 right
]


def test_pooled_values():
    m = description_metrics(PREDS, REFS)
    o = m.overall
    # 21 cells, 16 rated, 14 correct; two errors of one step each.
    assert (o["n_cells"], o["n_rated"]) == (21, 16)
    assert o["accuracy"] == pytest.approx(14 / 21)
    assert o["accuracy_rated"] == pytest.approx(14 / 16)
    assert o["mae"] == pytest.approx(2 / 16)
    assert o["coverage"] == pytest.approx(16 / 21)
    assert m.confusion["pooled"] == [[7, 1, 0], [1, 0, 0], [0, 0, 7]]
    assert m.unrated["pooled"] == [5, 0, 0]
    # F1 slight: P = 7/8, R = 7/13 (5 unrated slight cells are misses) → 2/3; moderate 0; severe 1.
    assert o["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert o["exact_match"] == pytest.approx(1 / 3)
    assert o["rated_fraction"] == pytest.approx((2 / 7 + 1 + 1) / 3)
    assert o["mentioned_fraction"] == pytest.approx((2 / 7 + 1 + 1) / 3)


def test_per_attribute_values():
    m = description_metrics(PREDS, REFS)
    wb = m.per_attribute["white_balance"]  # refs slight/moderate/severe, preds slight/slight/severe
    assert m.confusion["white_balance"] == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]
    assert wb["accuracy"] == pytest.approx(2 / 3)
    assert wb["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert wb["mae"] == pytest.approx(1 / 3)
    oc = m.per_attribute["overall_color"]  # refs slight/slight/severe, preds moderate/slight/severe
    assert m.confusion["overall_color"] == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert oc["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)  # "moderate" predicted once, never true
    dd = m.per_attribute["dark_details"]  # refs slight/slight/severe, preds none/slight/severe
    assert (dd["accuracy"], dd["accuracy_rated"], dd["coverage"]) == pytest.approx((2 / 3, 1.0, 2 / 3))
    assert dd["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)  # moderate occurs nowhere: left out
    assert dd["mae"] == 0.0
    assert m.overall["mean_attribute_macro_f1"] == pytest.approx(
        sum(m.per_attribute[a]["macro_f1"] for a in ALL) / 7
    )


def test_nothing_rated_gives_none_not_nan():
    m = description_metrics(["The images look different."], [REFS[0]])
    assert m.overall["accuracy"] == 0.0
    assert m.overall["accuracy_rated"] is None and m.overall["mae"] is None
    assert m.overall["macro_f1"] == 0.0  # slight occurs, never predicted


def test_text_similarity_from_reference_texts():
    refs = [_text(r) for r in REFS]
    same = description_metrics(refs, refs)
    assert same.text_similarity["bleu"] == pytest.approx(100.0)
    assert same.text_similarity["rouge_l_f"] == pytest.approx(1.0)
    assert same.overall["accuracy"] == 1.0
    other = description_metrics(["zebra quartz jumps"] * 3, refs)
    assert other.text_similarity["bleu"] < 1.0 and other.text_similarity["rouge_l_f"] == 0.0
    partial = description_metrics(PREDS, refs)
    assert 0.0 < partial.text_similarity["rouge_l_f"] < 1.0
    # severity dicts carry no text: similarity is absent with its reason, unless texts are passed
    assert "absent" in description_metrics(PREDS, REFS).text_similarity
    assert description_metrics(refs, REFS, reference_texts=refs).text_similarity["bleu"] == pytest.approx(
        100.0
    )


def test_human_answers_as_references():
    records = json.loads(shared_path("data", "m-spcd", "depict_task", "depict_align_test.json").read_text())
    answers = [r["human_answer"] for r in records]
    m = description_metrics(answers, answers)
    assert m.overall["accuracy"] == 1.0 and m.overall["n_cells"] == 350
    assert m.text_similarity["bleu"] == pytest.approx(100.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 generated texts but 1 references"):
        description_metrics(["a", "b"], [REFS[0]])
    with pytest.raises(ValueError, match="no descriptions"):
        description_metrics([], [])
    with pytest.raises(ValueError, match="unknown attribute 'hue'"):
        description_metrics(["x"], [{"hue": "slight"}], require_complete_references=False)
    with pytest.raises(ValueError, match="severity 'huge'"):
        description_metrics(["x"], [{"white_balance": "huge"}], require_complete_references=False)
    with pytest.raises(ValueError, match=r"reference 0 \(id q7\): no severity for .*overall_color"):
        description_metrics(["x"], ["slight white balance"], ids=["q7"])
    with pytest.raises(TypeError, match="generated text 0"):
        description_metrics([None], [REFS[0]])
    partial = description_metrics(
        ["moderate white balance"], ["slight white balance"], require_complete_references=False
    )
    assert partial.overall["n_cells"] == 1 and partial.overall["accuracy"] == 0.0


def test_report_files(tmp_path, capsys):
    refs = [_text(r) for r in REFS]
    write_description_report(
        PREDS,
        refs,
        tmp_path / "rep",
        method_name="toy",
        ids=["a", "b", "c"],
        images=[("x.png", "y.png")] * 3,
        config={"temperature": 0},
    )
    out = capsys.readouterr().out
    assert "white balance" in out and "BLEU" in out and "toy" in out
    report = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert report["kind"] == "description_report" and report["method"] == "toy"
    assert report["metrics"]["overall"]["accuracy"] == pytest.approx(14 / 21)
    lines = [json.loads(line) for line in (tmp_path / "rep" / "descriptions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    assert lines[0]["predicted_severities"] == {"white_balance": "slight", "overall_color": "moderate"}
    assert lines[1]["reference_severities"]["white_balance"] == "moderate"
    png = (tmp_path / "rep" / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_report_from_real_records(tmp_path):
    records = json.loads(shared_path("data", "m-spcd", "depict_task", "depict_align_test.json").read_text())[
        :5
    ]
    generated = ["Slight white balance, slight overall color."] * 5
    metrics = write_description_report_from_records(
        list(zip(records, generated)), tmp_path, method_name="toy", echo=False
    )
    assert metrics.n_descriptions == 5 and metrics.overall["n_cells"] == 35
    lines = [json.loads(line) for line in (tmp_path / "descriptions.jsonl").read_text().splitlines()]
    assert lines[0]["id"] == records[0]["question_id"] and lines[0]["images"] == records[0]["image"]
    assert lines[0]["reference"] == records[0]["human_answer"]


def test_records_in_conversation_form_and_missing_answers(tmp_path):
    turns = [{"from": "human", "value": "q"}, {"from": "gpt", "value": _text(REFS[0])}]
    record = {"id": "7", "image": ["a.png", "b.png"], "conversations": turns}
    metrics = write_description_report_from_records(
        [(record, _text(REFS[0]))], tmp_path, method_name="t", echo=False
    )
    assert metrics.overall["accuracy"] == 1.0
    with pytest.raises(ValueError, match=r"record 0 \(id 9\): no human answer"):
        write_description_report_from_records([({"id": 9}, "x")], tmp_path, method_name="t", echo=False)
