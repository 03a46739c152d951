"""`cdreasoning eval baseline` end to end on generated pairs: ordering, report, resume, errors."""

from __future__ import annotations

import csv
import json

import pytest

from cdreasoning.errors import DataError
from cdreasoning.evaluate.baseline import BaselineConfig, main, run_baseline
from tests.evaluate.synthetic_pairs import make_pair_set


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    return make_pair_set(tmp_path_factory.mktemp("pairs"), size=48, scenes=2)


def _predictions(out_dir):
    with (out_dir / "predictions.csv").open() as handle:
        return {(r["image_a"], r["image_b"]): float(r["prediction"]) for r in csv.DictReader(handle)}


@pytest.mark.parametrize("method", ["cie76", "cie94", "ciede2000", "scielab"])
def test_stronger_edit_gives_larger_difference(pair_set, tmp_path, method):
    csv_path, images, rows = pair_set
    report = run_baseline(
        csv_path,
        images,
        tmp_path / method,
        BaselineConfig(method=method),
        workers=1,
        progress=False,
        echo=False,
    )
    predicted = _predictions(tmp_path / method)
    for scene in ("I0001", "I0002"):
        by_strength = {k: predicted[(a, b)] for a, b, _, k in rows if a.startswith(scene) and k is not None}
        assert by_strength[0] == 0.0  # identical images
        assert by_strength[1] < by_strength[2] < by_strength[3] < by_strength[4]
    # the human ΔV grows with the strength too (the same in both scenes, so the ranking across scenes is not
    # perfect)
    assert report["subsets"]["aligned"]["delta_v"]["srcc"] > 0.8
    assert report["subsets"]["not_aligned"]["absent"].startswith("only 2 pair(s)")
    assert report["subsets"]["all"]["n_pairs"] == len(rows)
    for name in ("metrics.json", "predictions.csv", "scatter.png", "baseline_cache.csv", "baseline_run.json"):
        assert (tmp_path / method / name).is_file()


def test_resume_computes_only_missing_pairs(pair_set, tmp_path, capsys):
    csv_path, images, rows = pair_set
    out = tmp_path / "run"
    config = BaselineConfig(method="cie76")
    first = run_baseline(csv_path, images, out, config, workers=1, progress=False, echo=False)
    assert first["config"]["computed_pairs"] == len(rows)
    cache = out / "baseline_cache.csv"
    lines = cache.read_text().splitlines(keepends=True)
    # drop two results and leave a torn last line, as if the run had been killed mid-write
    cache.write_text("".join(lines[:-2]) + lines[-2][:7])
    second = run_baseline(csv_path, images, out, config, workers=1, progress=False, echo=True)
    assert second["config"]["computed_pairs"] == 2
    assert "already in the cache" in capsys.readouterr().out
    assert second["subsets"] == first["subsets"]
    third = run_baseline(csv_path, images, out, config, workers=1, progress=False, echo=False)
    assert third["config"]["computed_pairs"] == 0
    cache.write_text("")  # killed before even the header was written
    fourth = run_baseline(csv_path, images, out, config, workers=1, progress=False, echo=False)
    assert fourth["config"]["computed_pairs"] == len(rows) and fourth["subsets"] == first["subsets"]
    cache.write_text("image_a,image_b,delta_e\nI0001_01_01.png,I0001_02_01.png,not-a-number\n")
    with pytest.raises(DataError, match=r"baseline_cache.csv:2: bad cache row"):
        run_baseline(csv_path, images, out, config, workers=1, progress=False, echo=False)


def test_rerun_with_other_settings_is_refused_unless_overwrite(pair_set, tmp_path):
    csv_path, images, _ = pair_set
    out = tmp_path / "run"
    run_baseline(csv_path, images, out, BaselineConfig(method="cie76"), workers=1, progress=False, echo=False)
    with pytest.raises(DataError, match=r"other settings \(method: method was 'cie76', now 'ciede2000'\)"):
        run_baseline(
            csv_path, images, out, BaselineConfig(method="ciede2000"), workers=1, progress=False, echo=False
        )
    report = run_baseline(
        csv_path,
        images,
        out,
        BaselineConfig(method="ciede2000"),
        workers=1,
        progress=False,
        echo=False,
        overwrite=True,
    )
    assert report["method"] == "ciede2000"


def test_worker_pool_gives_the_same_numbers(pair_set, tmp_path):
    csv_path, images, _ = pair_set
    serial = run_baseline(
        csv_path,
        images,
        tmp_path / "a",
        BaselineConfig(method="scielab"),
        workers=1,
        progress=False,
        echo=False,
    )
    pooled = run_baseline(
        csv_path,
        images,
        tmp_path / "b",
        BaselineConfig(method="scielab"),
        workers=2,
        batch_size=3,
        progress=False,
        echo=False,
    )
    assert _predictions(tmp_path / "a") == _predictions(tmp_path / "b")
    assert serial["subsets"] == pooled["subsets"]


def test_missing_image_names_file_and_line(pair_set, tmp_path):
    csv_path, images, _ = pair_set
    bad = tmp_path / "pairs.csv"
    bad.write_text(csv_path.read_text() + "I0001_01_01.png,I0009_02_01.png,3.0\n")
    n_lines = len(bad.read_text().splitlines())
    with pytest.raises(DataError, match=rf"pairs.csv:{n_lines}: image .*I0009_02_01.png not found"):
        run_baseline(bad, images, tmp_path / "out", BaselineConfig(), workers=1, progress=False, echo=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_image_names_file_and_line(pair_set, tmp_path, workers):
    csv_path, images, _ = pair_set
    (tmp_path / "img").mkdir()
    for path in images.iterdir():
        (tmp_path / "img" / path.name).write_bytes(path.read_bytes())
    (tmp_path / "img" / "I0002_03_01.png").write_bytes(b"not a png at all")
    line = next(i for i, text in enumerate(csv_path.read_text().splitlines(), 1) if "I0002_03_01.png" in text)
    with pytest.raises(DataError, match=rf"pairs.csv:{line}: .*I0002_03_01.png: cannot read image"):
        run_baseline(
            csv_path,
            tmp_path / "img",
            tmp_path / "out",
            BaselineConfig(),
            workers=workers,
            batch_size=2,
            progress=False,
            echo=False,
        )
    # what was computed before the error is kept for the rerun
    assert (tmp_path / "out" / "baseline_cache.csv").read_text().startswith("image_a,image_b,delta_e\n")


def test_cli_main(pair_set, tmp_path, capsys):
    csv_path, images, _ = pair_set
    code = main(
        [
            "--method",
            "ciede2000",
            "--pairs",
            str(csv_path),
            "--image-folder",
            str(images),
            "--out",
            str(tmp_path / "cli"),
            "--workers",
            "1",
            "--no-progress",
            "--name",
            "CIEDE2000 mean",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "CIEDE2000 mean" in out and "ΔV, logistic" in out
    assert json.loads((tmp_path / "cli" / "metrics.json").read_text())["method"] == "CIEDE2000 mean"
    code = main(
        [
            "--method",
            "cie76",
            "--pairs",
            str(tmp_path / "nope.csv"),
            "--image-folder",
            str(images),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2 and "nope.csv: SPCD CSV not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--method", "cie2020", "--pairs", "a", "--image-folder", "b", "--out", "c"])
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    helptext = capsys.readouterr().out
    for option in (
        "--method",
        "--pairs",
        "--image-folder",
        "--out",
        "--max-side",
        "--workers",
        "--batch-size",
        "--display-ppi",
        "--viewing-distance-cm",
        "--samples-per-degree",
        "--overwrite",
    ):
        assert option in helptext


def test_config_validation():
    with pytest.raises(ValueError, match="unknown method"):
        BaselineConfig(method="cie2020")
    with pytest.raises(ValueError, match="max_side"):
        BaselineConfig(max_side=0)
    with pytest.raises(ValueError, match="viewing_distance_cm"):
        BaselineConfig(viewing_distance_cm=-1)
