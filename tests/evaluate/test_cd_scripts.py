"""cd_score.py / cd_description.py end to end on a tiny checkpoint and a synthetic set (as users run them)."""

import json
import subprocess
import sys

import pytest

from cdreasoning.cli import main
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("synth-eval") / "set"
    synthesize(out, scenes=5, seed=1, size=64, pairs_per_scene=9)
    return out


def test_cd_score_reports_all_subsets_and_resumes(tiny_checkpoint, synth_set, tmp_path, capsys):
    out = tmp_path / "score"
    args = [
        "eval",
        "score",
        "--model-path",
        str(tiny_checkpoint),
        "--device",
        "cpu",
        "--data",
        str(synth_set / "score_task" / "test_data.json"),
        "--image-folder",
        str(synth_set / "images"),
        "--out",
        str(out),
        "--batch-size",
        "4",
        "--name",
        "tiny",
    ]
    assert main(args) == 0
    report = json.loads((out / "metrics.json").read_text())
    records = json.loads((synth_set / "score_task" / "test_data.json").read_text())
    assert (
        report["kind"] == "score_report" and report["method"] == "tiny" and report["n_pairs"] == len(records)
    )
    subsets = report["subsets"]
    assert set(subsets) == {"all", "aligned", "not_aligned"}
    assert subsets["aligned"]["n_pairs"] + subsets["not_aligned"]["n_pairs"] == len(records)
    assert {"level", "delta_v"} <= set(subsets["all"])
    for name in ("scatter.png", "predictions.csv", "scores.csv"):
        assert (out / name).stat().st_size > 0
    assert (out / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "STRESS" in table.upper() and "aligned" in table
    # rerun: every pair is already scored
    assert main(args) == 0
    assert f"resuming: {len(records)} of {len(records)}" in capsys.readouterr().err


def test_cd_score_stops_on_missing_images_unless_allowed(tiny_checkpoint, synth_set, tmp_path, capsys):
    data = tmp_path / "pairs.csv"
    rows = [line for line in (synth_set / "test.csv").read_text().splitlines()[:6]]
    rows.append("I0001_01_01.png,absent.png,3.0")
    data.write_text("\n".join(rows) + "\n")
    args = [
        "eval",
        "score",
        "--model-path",
        str(tiny_checkpoint),
        "--device",
        "cpu",
        "--data",
        str(data),
        "--image-folder",
        str(synth_set / "images"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 1
    assert "not reporting metrics" in capsys.readouterr().err
    assert not (tmp_path / "out" / "metrics.json").exists()
    assert main(args + ["--allow-failures"]) == 1
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert report["n_pairs"] == 6 and report["config"]["failed_pairs"] == 1


def test_cd_description_as_a_script_with_the_seed_flags(tiny_checkpoint, synth_set, tmp_path):
    data = tmp_path / "depict.json"
    data.write_text(json.dumps(json.loads((synth_set / "depict_task" / "depict_test.json").read_text())[:3]))
    out = tmp_path / "describe"
    result = subprocess.run(
        [
            sys.executable,
            "cdreasoning/evaluate/cd_description.py",
            "--model-path",
            str(tiny_checkpoint),
            "--device",
            "cpu",
            "--data",
            str(data),
            "--image-folder",
            str(synth_set / "images"),
            "--out",
            str(out),
            "--max-new-tokens",
            "24",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "metrics.json").read_text())
    assert report["kind"] == "description_report"
    generations = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == 3 and all(isinstance(g["text"], str) for g in generations)
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_cd_score_script_help():
    result = subprocess.run(
        [sys.executable, "cdreasoning/evaluate/cd_score.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "--model-path" in result.stdout and "--device" in result.stdout
