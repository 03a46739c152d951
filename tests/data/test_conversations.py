import copy
import json

import pytest

from cdreasoning.constants import DEFAULT_IMAGE_TOKEN
from cdreasoning.data import DataError, canonical_placeholders, count_placeholders, read_conversations
from tests.conftest import shared_path
from tests.data.helpers import score_record, write_records


def test_reads_score_record_with_typed_fields(tmp_path):
    path = write_records(tmp_path / "s.json", [score_record(gt_score=3.25)])
    (record,) = read_conversations(path)
    assert record.id == "000000000001"
    assert record.images == ("a.png", "b.png")
    assert [t.role for t in record.turns] == ["human", "gpt"]
    assert record.gt_score == 3.25
    assert record.kind == "score" and record.level == "slight"
    assert record.question == "How do they differ?"
    assert record.placeholder_count == 2 and record.placeholders_match
    assert record.to_dict() == score_record(gt_score=3.25)


def test_multi_turn_no_image_and_extra_keys_are_kept(tmp_path):
    multi = {
        "id": "m",
        "image": ["x.png"],
        "source": "web",
        "conversations": [
            {"from": "human", "value": "<|image|>\nWhat is shown?"},
            {"from": "gpt", "value": "A cup."},
            {"from": "human", "value": "And its colour?"},
            {"from": "gpt", "value": "Orange."},
        ],
    }
    text_only = {
        "id": "t",
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}],
    }
    records = read_conversations(write_records(tmp_path / "m.json", [multi, text_only]))
    assert len(records[0].turns) == 4 and records[0].kind == "other"
    assert records[0].extra == {"source": "web"} and records[0].to_dict()["source"] == "web"
    assert records[1].images == () and records[1].placeholders_match


def test_alias_placeholder_is_counted_not_dropped(tmp_path):
    path = write_records(tmp_path / "alias.json", [score_record(placeholder="<image>")])
    (record,) = read_conversations(path)
    assert record.placeholder_counts == {"<image>": 2}
    assert record.uses_alias_placeholders and record.placeholders_match
    assert record.turns[0].value.startswith("<image><image>")  # kept verbatim
    assert canonical_placeholders(record.turns[0].value).startswith(DEFAULT_IMAGE_TOKEN * 2)
    assert count_placeholders("<|image|> and <image>") == {"<|image|>": 1, "<image>": 1}


def _bad(mutate):
    record = score_record(record_id="rec-7")
    mutate(record)
    return record


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("conversations"), "missing key 'conversations'"),
        (lambda r: r.pop("id"), "missing key 'id'"),
        (lambda r: r.update(id=7), "'id' must be a non-empty string"),
        (lambda r: r.update(image="a.png"), "'image' must be a list of strings"),
        (lambda r: r.update(image=["a.png", 3]), "'image' must be a list of strings"),
        (lambda r: r["conversations"].reverse(), "roles must alternate human/gpt"),
        (lambda r: r["conversations"][1].update({"from": "assistant"}), "expected 'gpt', got 'assistant'"),
        (lambda r: r["conversations"][1].update(value="  "), "empty gpt value"),
        (lambda r: r["conversations"][1].pop("value"), "turn 1: missing key 'value'"),
        (lambda r: r["conversations"].pop(), "ends with a human turn"),
        (lambda r: r.update(conversations=[]), "non-empty list of turns"),
        (lambda r: r.update(gt_score="3.2"), "'gt_score' must be a number"),
        (lambda r: r.update(gt_score=float("nan")), "'gt_score' must be finite"),
        (lambda r: r.update(severities={"white_balance": "slight"}), "lacks attribute"),
    ],
)
def test_malformed_record_names_file_index_and_id(tmp_path, mutate, message):
    records = [score_record(), _bad(mutate)]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records, allow_nan=True))
    with pytest.raises(DataError, match=message) as info:
        read_conversations(path)
    text = str(info.value)
    assert str(path) in text and "record #1" in text
    if "id" in records[1] and isinstance(records[1]["id"], str):
        assert "'rec-7'" in text


def test_not_a_list_and_bad_json(tmp_path):
    (tmp_path / "obj.json").write_text('{"id": 1}')
    with pytest.raises(DataError, match="expected a JSON list"):
        read_conversations(tmp_path / "obj.json")
    (tmp_path / "broken.json").write_text('[{"id": ')
    with pytest.raises(DataError, match="not valid JSON"):
        read_conversations(tmp_path / "broken.json")
    with pytest.raises(DataError, match="not found"):
        read_conversations(tmp_path / "absent.json")


def test_placeholder_mismatch_reports_every_record(tmp_path):
    good = score_record("g")
    one = score_record("one-placeholder")
    one["conversations"][0]["value"] = "<|image|>\nWhich?"
    three = score_record("three", images=("a.png", "b.png", "c.png"))
    three["image"] = ["a.png"]
    path = write_records(tmp_path / "mm.json", [good, one, three])
    with pytest.raises(DataError) as info:
        read_conversations(path)
    text = str(info.value)
    assert "2 record(s)" in text and "'one-placeholder'" in text and "'three'" in text and "'g'" not in text
    records = read_conversations(path, allow_placeholder_mismatch=True)
    assert [r.placeholders_match for r in records] == [True, False, False]  # nothing dropped


def test_real_m_spcd_score_files_read_completely():
    for name, count in (
        ("test_data.json", 5975),
        ("test_aligned_data.json", 3980),
        ("test_notaligned_data.json", 1995),
    ):
        records = read_conversations(shared_path("data", "m-spcd", "score_task", name))
        assert len(records) == count
        assert all(r.kind == "score" and r.placeholders_match and r.uses_alias_placeholders for r in records)


def test_records_are_not_mutated(tmp_path):
    raw = [score_record()]
    before = copy.deepcopy(raw)
    read_conversations(write_records(tmp_path / "s.json", raw))
    assert raw == before
