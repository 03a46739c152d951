import json

import numpy as np
from PIL import Image

from cdreasoning.data import check_dataset
from cdreasoning.data.cli import main
from tests.conftest import shared_path
from tests.data.helpers import score_record, write_records


def _images(folder):
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(folder / name)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    truncated = (folder / "a.png").read_bytes()
    (folder / "truncated.png").write_bytes(truncated[: len(truncated) // 2])
    return folder


def test_each_problem_kind_is_found_with_its_record(tmp_path):
    images = _images(tmp_path / "img")
    mismatch = score_record("mismatch")
    mismatch["conversations"][0]["value"] = "<|image|>\nWhich?"
    malformed = score_record("malformed")
    malformed["conversations"][1]["from"] = "assistant"
    records = [
        score_record("ok", images=("a.png", "b.png")),
        score_record(
            "alias",
            images=("a.png", "c.png"),
            placeholder="<image>",
            answer="The color difference between these two images is Moderate.",
            gt_score=4.0,
        ),
        score_record("ok", images=("a.png", "b.png")),  # duplicate id
        mismatch,
        score_record("level", answer="The color difference between these two images is huge."),
        score_record("missing", images=("a.png", "nowhere.png")),
        score_record("corrupt", images=("corrupt.png", "truncated.png")),
        malformed,
    ]
    report = check_dataset(write_records(tmp_path / "d.json", records), images)
    found = {(p.kind, p.record_id) for p in report.problems}
    assert found == {
        ("duplicate-id", "ok"),
        ("placeholder-mismatch", "mismatch"),
        ("unknown-level", "level"),
        ("missing-image", "missing"),
        ("unreadable-image", "corrupt"),
        ("malformed-record", "malformed"),
    }
    assert sum(p.kind == "unreadable-image" for p in report.problems) == 2  # both broken files
    assert report.alias_records == 1 and report.levels["moderate"] == 1  # capitalised word accepted
    assert report.kinds["score"] == 7 and not report.ok
    malformed_problem = next(p for p in report.problems if p.kind == "malformed-record")
    assert "turn 1" in malformed_problem.message and "'assistant'" in malformed_problem.message
    text = report.format()
    assert "record #5 (id 'missing')" in text and "nowhere.png" in text and text.endswith("FAILED")


def test_cli_exit_codes_and_no_images(tmp_path, capsys):
    images = _images(tmp_path / "img")
    good = write_records(tmp_path / "good.json", [score_record("1", images=("a.png", "b.png"))])
    assert main(["check", str(good), "--image-folder", str(images), "--quiet"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")
    absent = write_records(tmp_path / "absent.json", [score_record("1", images=("x.png", "y.png"))])
    assert main(["check", str(absent), "--image-folder", str(images), "--quiet"]) == 1
    assert "missing-image 2" in capsys.readouterr().out
    assert main(["check", str(absent), "--no-images"]) == 0
    assert main(["check", str(absent)]) == 2  # neither --image-folder nor --no-images
    assert "--image-folder is required" in capsys.readouterr().err


def test_level_rule_note_and_severity_histogram(tmp_path):
    record = score_record("x", gt_score=5.0)  # ΔV 5 → moderate, but the answer says slight
    depict = {
        "question_id": "q",
        "image": ["a.png", "b.png"],
        "text": "Q",
        "human_answer": "A",
        "severities": {
            a: "moderate"
            for a in (
                "white_balance",
                "brightness_contrast",
                "color_contrast",
                "overall_brightness",
                "overall_color",
                "dark_details",
                "bright_details",
            )
        },
    }
    report = check_dataset(write_records(tmp_path / "x.json", [record]), check_images=False)
    assert report.ok and report.level_rule_disagreements == 1
    report = check_dataset(write_records(tmp_path / "y.json", [depict]), check_images=False)
    assert report.formats["depict-test"] == 1 and report.severities["white_balance"]["moderate"] == 1


def test_real_files_without_images(tmp_path):
    """The published M-SPCD files pass the structural checks; without images, every image is missing."""
    test_data = shared_path("data", "m-spcd", "score_task", "test_data.json")
    report = check_dataset(test_data, check_images=False)
    assert report.ok and report.records == 5975 and report.alias_records == 5975
    assert report.level_rule_disagreements == 518  # FACTS §2: other cut points in test_data.json
    depict = check_dataset(
        shared_path("data", "m-spcd", "depict_task", "depict_align_test.json"), check_images=False
    )
    assert depict.ok and depict.kinds["depict"] == 50
    (tmp_path / "empty").mkdir()
    aligned = check_dataset(
        shared_path("data", "m-spcd", "score_task", "test_notaligned_data.json"), tmp_path / "empty"
    )
    assert len(aligned.problems) == 2 * 1995 and {p.kind for p in aligned.problems} == {"missing-image"}
    json.dumps([p.format() for p in aligned.problems[:3]])
