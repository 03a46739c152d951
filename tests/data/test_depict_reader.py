import json

import pytest

from cdreasoning.constants import DEPICT_QUESTION
from cdreasoning.data import DataError, read_depict_tests
from tests.conftest import shared_path


def _record(**overrides):
    record = {
        "question_id": "000000000001",
        "image": ["a.png", "b.png"],
        "text": DEPICT_QUESTION,
        "human_answer": "The two images exhibit slight variations in white balance.",
    }
    record.update(overrides)
    return record


def test_reads_and_converts_to_conversation(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([_record()]))
    (record,) = read_depict_tests(path)
    assert record.images == ("a.png", "b.png") and record.severities is None
    conversation = record.to_conversation()
    assert conversation.turns[0].value == "<|image|><|image|>\n" + DEPICT_QUESTION
    assert conversation.placeholders_match and conversation.kind == "depict"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"human_answer": ""}, "empty 'human_answer'"),
        ({"text": 5}, "'text' must be a string"),
        ({"image": "a.png"}, "'image' must be a list of strings"),
        ({"severities": {"white_balance": "huge"}}, "unknown attribute|lacks attribute|not one of"),
    ],
)
def test_malformed_depict_record(tmp_path, overrides, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([_record(), _record(question_id="q2", **overrides)]))
    with pytest.raises(DataError, match=message) as info:
        read_depict_tests(path)
    assert str(path) in str(info.value) and "record #1 (id 'q2')" in str(info.value)


def test_missing_key(tmp_path):
    path = tmp_path / "d.json"
    bad = _record()
    del bad["human_answer"]
    path.write_text(json.dumps([bad]))
    with pytest.raises(DataError, match="record #0 .*missing key 'human_answer'"):
        read_depict_tests(path)


def test_real_depict_file():
    records = read_depict_tests(shared_path("data", "m-spcd", "depict_task", "depict_align_test.json"))
    assert len(records) == 50
    assert all(r.text == DEPICT_QUESTION and len(r.images) == 2 for r in records)
