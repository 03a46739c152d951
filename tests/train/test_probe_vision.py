"""scripts/probe_vision.py: the ridge read-out recovers a relation it can express, finds nothing in noise, and the
script runs end to end on a real tower and synthetic set."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("probe_vision", REPO_ROOT / "scripts" / "probe_vision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pairs(rng, images, count, delta_v, aligned=True):
    out = []
    for _ in range(count):
        a, b = rng.choice(len(images), 2, replace=False)
        out.append((images[a], images[b], delta_v(images[a], images[b]), aligned))
    return out


def test_a_squared_feature_distance_is_read_out_exactly(probe):
    # ΔV = Σ (f_A − f_B)² is a sum of the probe's own (f_A − f_B)² columns, so ridge with a small penalty must
    # rank every split perfectly: SRCC 1 by construction, not by the function under test.
    rng = np.random.default_rng(0)
    features = {f"i{k}": rng.normal(size=4) for k in range(60)}
    names = list(features)

    def distance(a, b):
        return float(((features[a] - features[b]) ** 2).sum())

    splits = {
        "train": _pairs(rng, names, 300, distance),
        "val": _pairs(rng, names, 80, distance),
        "test": _pairs(rng, names, 60, distance, aligned=True)
        + _pairs(rng, names, 60, distance, aligned=False),
    }
    result = probe.ridge_probe(features, splits, [1e-3, 1e3])
    assert result["penalty"] == 1e-3  # the small penalty has the higher val SRCC
    for key in ("train", "val", "test", "test_aligned", "test_not_aligned"):
        assert result[key] == pytest.approx(1.0, abs=1e-6), key


def test_labels_unrelated_to_the_features_give_no_held_out_correlation(probe):
    rng = np.random.default_rng(1)
    features = {f"i{k}": rng.normal(size=8) for k in range(80)}
    names = list(features)
    noise = {}

    def random_label(a, b):
        return noise.setdefault((a, b), float(rng.uniform(1, 10)))

    splits = {
        name: _pairs(rng, names, n, random_label) for name, n in (("train", 300), ("val", 100), ("test", 400))
    }
    result = probe.ridge_probe(features, splits, [1.0, 100.0])
    # 400 independent pairs: the SRCC of unrelated data has std ≈ 1/√399 = 0.05.
    assert abs(result["test"]) < 0.2
    assert result["test_not_aligned"] is None  # no such pairs: no number


def test_the_script_probes_a_tiny_tower_on_a_synthetic_set(probe, tiny_checkpoint, tmp_path, capsys):
    from cdreasoning.data import synthesize

    data = tmp_path / "synth"
    synthesize(data, scenes=5, seed=0, size=64, pairs_per_scene=12)
    argv = [
        "--data",
        str(data),
        "--model-path",
        str(tiny_checkpoint),
        "--position-scale",
        "1,10",
        "--ridge",
        "10",
    ]
    assert probe.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("position scale")
    rows = [line.split(" | ") for line in lines[1:]]
    assert [row[0] for row in rows] == ["1", "10"] and all(row[1] == "10" for row in rows)
    for row in rows:
        values = [float(v) for v in row[2:] if v != "—"]
        assert values and all(-1.0 <= v <= 1.0 for v in values)
    # Scaling the position embeddings changes the tower's features, hence the fit.
    assert rows[0][2:] != rows[1][2:]


def test_a_folder_that_is_not_a_synthetic_set_is_refused_by_name(probe, tiny_checkpoint, tmp_path):
    with pytest.raises(SystemExit, match=r"train\.csv does not exist"):
        probe.main(["--data", str(tmp_path), "--model-path", str(tiny_checkpoint)])
    for name in ("train.csv", "val.csv", "test.csv"):
        (tmp_path / name).write_text("")
    (tmp_path / "images").mkdir()
    with pytest.raises(SystemExit, match="has no config.json"):
        probe.main(["--data", str(tmp_path), "--model-path", str(tmp_path)])


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--ridge", "1,x", "must be a comma list of numbers"),
        ("--position-scale", "1,0", "values must be > 0"),
    ],
)
def test_bad_number_lists_are_refused_by_flag(probe, tmp_path, flag, value, message):
    with pytest.raises(SystemExit, match=f"{flag} {message}"):
        probe.main(["--data", str(tmp_path), "--model-path", str(tmp_path), flag, value])
