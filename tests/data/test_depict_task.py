import json

import pytest

from cdreasoning.constants import ATTRIBUTES, DEPICT_QUESTION
from cdreasoning.data import DataError, read_conversations, read_depict_tests, read_severity_table
from cdreasoning.data.cli import main
from tests.data.test_descriptions import parse_by_contract

HEADER = "image_a,image_b," + ",".join(ATTRIBUTES)


def _csv(tmp_path, rows, header=HEADER, name="sev.csv"):
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


ROW = "I0001_01_01.png,I0001_02_01.png,slight,severe,moderate,moderate,slight,moderate,Moderate"


def test_csv_to_train_and_test_formats(tmp_path, capsys):
    path = _csv(tmp_path, [ROW, ROW.replace("_02_", "_03_")])
    train, test = tmp_path / "train.json", tmp_path / "test.json"
    assert main(["build-describe", "--severities", str(path), "--out", str(train), "--seed", "4"]) == 0
    assert (
        main(
            [
                "build-describe",
                "--severities",
                str(path),
                "--out",
                str(test),
                "--format",
                "test",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    conversations = read_conversations(train)
    assert len(conversations) == 2 and conversations[0].kind == "depict"
    assert conversations[0].turns[0].value == "<|image|><|image|>\n" + DEPICT_QUESTION
    assert conversations[0].severities["bright_details"] == "moderate"  # case normalised
    assert parse_by_contract(conversations[0].answer) == conversations[0].severities
    tests = read_depict_tests(test)
    assert tests[0].question_id == "000000000001" and tests[0].text == DEPICT_QUESTION
    assert tests[0].human_answer == conversations[0].answer  # same seed, same description
    assert list(json.loads(test.read_text())[0]) == [
        "question_id",
        "image",
        "text",
        "human_answer",
        "severities",
    ]


def test_json_input(tmp_path):
    path = tmp_path / "sev.json"
    path.write_text(
        json.dumps([{"image": ["a.png", "b.png"], "severities": {a: "severe" for a in ATTRIBUTES}}])
    )
    (item,) = read_severity_table(path)
    assert item.images == ("a.png", "b.png") and set(item.severities.values()) == {"severe"}


@pytest.mark.parametrize(
    "header, row, message",
    [
        (HEADER.replace("white_balance", "sharpness"), ROW, r":1: unknown column\(s\) \['sharpness'\]"),
        (
            HEADER.replace(",dark_details", ""),
            ROW.rsplit(",", 1)[0],
            r":1: missing column\(s\) \['dark_details'\]",
        ),
        (HEADER, ROW.replace("severe", "extreme"), r":3: severity 'extreme' of 'brightness_contrast'"),
        (HEADER, ROW.rsplit(",", 1)[0], r":3: expected 9 fields"),
    ],
)
def test_bad_csv_names_file_and_row(tmp_path, header, row, message):
    path = (
        _csv(tmp_path, [ROW, row], header=header)
        if header == HEADER
        else _csv(tmp_path, [row], header=header)
    )
    with pytest.raises(DataError, match=message) as info:
        read_severity_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "record, message",
    [
        ({"image": ["a.png", "b.png"], "severities": {"white_balance": "slight"}}, "lacks attribute"),
        (
            {"image": ["a.png", "b.png"], "severities": {"tint": "slight"}},
            r"unknown attribute\(s\) \['tint'\]",
        ),
        ({"image": ["a.png"], "severities": {a: "huge" for a in ATTRIBUTES}}, "severity 'huge'"),
        ({"severities": {a: "slight" for a in ATTRIBUTES}}, "missing key 'image'"),
    ],
)
def test_bad_json_names_file_and_record(tmp_path, record, message):
    path = tmp_path / "sev.json"
    good = {"image": ["a.png", "b.png"], "severities": {a: "slight" for a in ATTRIBUTES}}
    path.write_text(json.dumps([good, record]))
    with pytest.raises(DataError, match=message) as info:
        read_severity_table(path)
    assert str(path) in str(info.value) and "record #1" in str(info.value)


def test_cli_reports_bad_input(tmp_path, capsys):
    path = _csv(tmp_path, [ROW.replace("slight", "tiny", 1)])
    assert main(["build-describe", "--severities", str(path), "--out", str(tmp_path / "o.json")]) == 2
    assert f"{path}:2: severity 'tiny' of 'white_balance'" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
