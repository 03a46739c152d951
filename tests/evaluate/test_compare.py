"""`cdreasoning eval compare` on score-report directories; the `cdreasoning eval` dispatcher."""

from __future__ import annotations

import json

import pytest

from cdreasoning.cli import main as cdreasoning_main
from cdreasoning.evaluate import ScoreRow, score_metrics, write_score_report
from cdreasoning.evaluate.cli import main as eval_main
from cdreasoning.evaluate.compare import ComparisonError, compare_results, main
from tests.evaluate.test_score_report import _rows


def _write(tmp_path, name, rows, space, method):
    write_score_report(rows, tmp_path / name, prediction_space=space, method_name=method, echo=False)
    return tmp_path / name


@pytest.fixture
def two_results(tmp_path):
    rows = _rows()
    mllm = _write(tmp_path, "mllm", rows, "grade", "cd-reasoning")
    baseline_rows = [
        ScoreRow(r.image_a, r.image_b, r.human_delta_v, r.human_delta_v**0.8 + (i % 5) * 0.3, r.aligned)
        for i, r in enumerate(rows)
    ]
    baseline = _write(tmp_path, "ciede2000", baseline_rows, "delta_v", "ciede2000")
    return rows, baseline_rows, mllm, baseline


def test_leaderboard_files(two_results, tmp_path, capsys):
    rows, baseline_rows, mllm, baseline = two_results
    assert main([str(mllm), str(baseline), "--out", str(tmp_path / "board")]) == 0
    printed = capsys.readouterr().out
    md = (tmp_path / "board" / "leaderboard.md").read_text()
    assert md in printed
    assert "## ΔV space" in md and "## Level space" in md
    expected = score_metrics(baseline_rows, "delta_v")["all"]["delta_v"]
    assert f"| ciede2000 | all | {len(rows)} | " in md and f"{expected['stress']:.2f}" in md
    level_table = md.split("## Level space")[1]
    assert "cd-reasoning" in level_table and "| ciede2000 | all" not in level_table
    board = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert [e["label"] for e in board["entries"]] == ["cd-reasoning", "ciede2000"]
    assert board["entries"][1]["subsets"]["all"]["delta_v"]["stress"] == pytest.approx(expected["stress"])
    png = (tmp_path / "board" / "leaderboard.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    # the best value of a column is bold: ciede2000's ΔV mapping is near-perfect in rank here
    srccs = {e["label"]: e["subsets"]["all"]["delta_v"]["srcc"] for e in board["entries"]}
    winner = max(srccs, key=srccs.get)
    assert f"**{srccs[winner]:.4f}**" in md


def test_mismatched_pairs_are_refused_then_intersected(two_results, tmp_path, capsys):
    rows, baseline_rows, mllm, _ = two_results
    fewer = _write(tmp_path, "fewer", baseline_rows[:-4], "delta_v", "fewer")
    with pytest.raises(ComparisonError) as info:
        compare_results([mllm, fewer])
    message = str(info.value)
    assert "not computed on identical pairs" in message and "4 missing" in message
    assert rows[-1].image_a in message and "--intersect" in message
    assert main([str(mllm), str(fewer)]) == 2
    assert "4 missing" in capsys.readouterr().err
    board = compare_results([mllm, fewer], intersect=True)
    assert board.intersected and board.n_pairs == len(rows) - 4
    recomputed = score_metrics(rows[:-4], "grade")
    assert board.entries[0]["subsets"]["all"]["level"]["plcc"] == pytest.approx(
        recomputed["all"]["level"]["plcc"]
    )


def test_different_ground_truth_is_refused(two_results, tmp_path):
    rows, _, mllm, _ = two_results
    changed = [
        ScoreRow(r.image_a, r.image_b, r.human_delta_v + (0.5 if i == 3 else 0.0), r.prediction, r.aligned)
        for i, r in enumerate(rows)
    ]
    other = _write(tmp_path, "other", changed, "grade", "other")
    with pytest.raises(ComparisonError, match=rf"pair \({rows[3].image_a}, .*different ground truth"):
        compare_results([mllm, other], intersect=True)


def test_bad_directories(tmp_path, two_results):
    with pytest.raises(ComparisonError, match="no metrics.json"):
        compare_results([tmp_path / "nothing"])
    desc = tmp_path / "desc"
    desc.mkdir()
    (desc / "metrics.json").write_text(json.dumps({"kind": "description_report"}))
    with pytest.raises(ComparisonError, match="not a score report"):
        compare_results([desc])


def test_duplicate_method_names_get_the_directory(two_results, tmp_path):
    _, baseline_rows, _, baseline = two_results
    again = _write(tmp_path, "again", baseline_rows, "delta_v", "ciede2000")
    board = compare_results([baseline, again])
    assert [e["label"] for e in board.entries] == ["ciede2000 (ciede2000)", "ciede2000 (again)"]


def test_eval_dispatcher(two_results, capsys):
    _, _, mllm, baseline = two_results
    assert eval_main([]) == 0
    text = capsys.readouterr().out
    assert "baseline" in text and "compare" in text
    assert cdreasoning_main(["eval", "compare", str(mllm), str(baseline)]) == 0
    assert "Colour-difference leaderboard" in capsys.readouterr().out
    assert eval_main(["frobnicate"]) == 2
    assert "cdreasoning eval: unknown command 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        eval_main(["compare", "--help"])
    assert info.value.code == 0 and "--intersect" in capsys.readouterr().out


def test_importing_evaluate_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, cdreasoning.evaluate, cdreasoning.evaluate.cli; "
        "names = ('matplotlib', 'colour', 'sacrebleu', 'rouge_score', 'torch', 'transformers'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
