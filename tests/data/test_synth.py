"""The synthetic SPCD-like set end to end (a few scenes at 64 px)."""

import csv
import json
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from cdreasoning.constants import CD_LEVELS
from cdreasoning.data import (
    check_dataset,
    read_conversations,
    read_depict_tests,
    read_spcd_csv,
    synthesize,
)
from cdreasoning.data.cli import main
from cdreasoning.data.spcd_names import is_pixel_aligned, parse_spcd_name
from cdreasoning.data.synth import generate, scene_layout, split_scenes
from cdreasoning.errors import DataError

SCENES, SEED, SIZE, PAIRS = 5, 11, 64, 9


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    summary = synthesize(out, scenes=SCENES, seed=SEED, size=SIZE, pairs_per_scene=PAIRS)
    assert not summary.reused
    return out


def _files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_layout_follows_spcd_naming(synth_dir):
    layout = scene_layout(PAIRS)
    assert (layout.not_aligned, layout.aligned) == (3, 6)
    names = sorted(p.name for p in (synth_dir / "images").iterdir())
    per_scene = 1 * layout.phones + 6 * layout.edits_per_group
    assert len(names) == SCENES * per_scene
    groups = {parse_spcd_name(n).group for n in names}
    assert groups == {"01", "02", "03", "04", "05", "06", "07"}
    image = Image.open(synth_dir / "images" / names[0])
    assert image.size == (SIZE, SIZE) and image.mode == "RGB"


def test_deterministic_byte_identical(synth_dir, tmp_path):
    again = tmp_path / "again"
    synthesize(again, scenes=SCENES, seed=SEED, size=SIZE, pairs_per_scene=PAIRS)
    first, second = _files(synth_dir), _files(again)
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] for k in first)
    other = tmp_path / "other"
    synthesize(other, scenes=SCENES, seed=SEED + 1, size=SIZE, pairs_per_scene=PAIRS)
    assert (other / "train.csv").read_bytes() != (synth_dir / "train.csv").read_bytes()


def test_splits_are_scene_disjoint_and_alignment_is_right(synth_dir):
    scenes = {}
    for split in ("train", "val", "test"):
        pairs = read_spcd_csv(synth_dir / f"{split}.csv")
        scenes[split] = {parse_spcd_name(p.image_a).scene for p in pairs} | {
            parse_spcd_name(p.image_b).scene for p in pairs
        }
        assert all(parse_spcd_name(p.image_a).scene == parse_spcd_name(p.image_b).scene for p in pairs)
        assert len(pairs) == len(scenes[split]) * PAIRS
        assert len({p.key for p in pairs}) == len(pairs)  # no pair twice
    assert all(scenes.values())
    assert not (
        scenes["train"] & scenes["val"] or scenes["train"] & scenes["test"] or scenes["val"] & scenes["test"]
    )
    assert len(scenes["train"] | scenes["val"] | scenes["test"]) == SCENES
    test = read_spcd_csv(synth_dir / "test.csv")
    aligned = read_spcd_csv(synth_dir / "test_aligned.csv")
    not_aligned = read_spcd_csv(synth_dir / "test_notaligned.csv")
    assert all(is_pixel_aligned(p.image_a, p.image_b) for p in aligned)
    assert not any(is_pixel_aligned(p.image_a, p.image_b) for p in not_aligned)
    assert sorted(p.key for p in aligned + not_aligned) == sorted(p.key for p in test)
    assert len(not_aligned) * 3 == len(test)  # one third, like SPCD


def test_aligned_pairs_are_pixel_aligned_and_phone_pairs_are_not(synth_dir):
    """Edits keep the reference's geometry (same edges), phone captures are shifted/rotated/zoomed."""

    def edges(name):
        image = np.asarray(Image.open(synth_dir / "images" / name).convert("L"), dtype=np.float64)
        gy, gx = np.gradient(image)
        return np.hypot(gx, gy).ravel()

    ref = "I0001_01_01.png"
    assert np.corrcoef(edges(ref), edges("I0001_04_01.png"))[0, 1] > 0.9
    assert np.corrcoef(edges(ref), edges("I0001_01_02.png"))[0, 1] < 0.85


def test_ground_truth_range_and_files_agree(synth_dir):
    meta = json.loads((synth_dir / "synth_meta.json").read_text())
    values = [
        p.delta_v for split in ("train", "val", "test") for p in read_spcd_csv(synth_dir / f"{split}.csv")
    ]
    assert 0.9 <= min(values) and max(values) <= 16.5 and 2.5 < np.mean(values) < 8
    assert meta["delta_v"]["max"] == max(values) and meta["parameters"]["seed"] == SEED
    assert "D = E + 0.6*G + 1.5*T" in meta["delta_v"]["formula"]
    score = read_conversations(synth_dir / "score_task" / "train_data.json")
    by_pair = {p.key: p.delta_v for p in read_spcd_csv(synth_dir / "train.csv")}
    assert {r.images: r.gt_score for r in score} == by_pair
    assert all(r.level in CD_LEVELS for r in score)
    depict_train = read_conversations(synth_dir / "depict_task" / "depict_train.json")
    depict_test = read_depict_tests(synth_dir / "depict_task" / "depict_test.json")
    assert len(depict_train) == len(score) and all(r.severities for r in depict_train)
    assert len(depict_test) == len(read_spcd_csv(synth_dir / "test.csv")) and all(
        r.severities for r in depict_test
    )
    mix = read_conversations(synth_dir / "train_mix.json")
    assert len(mix) == 2 * len(score) and len({r.id for r in mix}) == len(mix)


def test_outputs_match_the_cli_builders(synth_dir, tmp_path):
    """build-score / build-describe on the written CSVs reproduce the written JSONs byte for byte."""
    score = tmp_path / "score.json"
    assert (
        main(
            [
                "build-score",
                "--spcd-csv",
                str(synth_dir / "val.csv"),
                "--out",
                str(score),
                "--seed",
                str(SEED),
            ]
        )
        == 0
    )
    assert score.read_bytes() == (synth_dir / "score_task" / "val_data.json").read_bytes()
    for split, fmt in (("train", "train"), ("test", "test")):
        depict = tmp_path / f"{split}.json"
        assert (
            main(
                [
                    "build-describe",
                    "--severities",
                    str(synth_dir / "severities" / f"{split}.csv"),
                    "--out",
                    str(depict),
                    "--seed",
                    str(SEED),
                    "--format",
                    fmt,
                ]
            )
            == 0
        )
        assert depict.read_bytes() == (synth_dir / "depict_task" / f"depict_{split}.json").read_bytes()


def test_check_passes_on_every_output(synth_dir):
    for name in ("train_mix.json", "score_task/test_notaligned_data.json", "depict_task/depict_val.json"):
        report = check_dataset(synth_dir / name, synth_dir / "images")
        assert report.ok, report.format()


def test_phone_pair_severities_come_from_the_looks(synth_dir):
    looks = json.loads((synth_dir / "looks.json").read_text())
    from cdreasoning.data.synth.isp import IspParams, attribute_magnitudes, severities_from_magnitudes

    rows = list(csv.DictReader((synth_dir / "severities" / "train.csv").open()))
    phone_rows = [r for r in rows if not is_pixel_aligned(r["image_a"], r["image_b"])]
    assert phone_rows
    for row in rows:
        delta = IspParams(**looks[row["image_a"]]["look"]) - IspParams(**looks[row["image_b"]]["look"])
        expected = severities_from_magnitudes(attribute_magnitudes(delta))
        assert {a: row[a] for a in expected} == expected


def test_proxy_ignores_the_phones_framing(monkeypatch, tmp_path):
    """ΔV is computed before framing: with every phone forced to the reference framing the ratings are equal,
    although the written phone images differ."""
    layout = scene_layout(12)
    normal, _, _ = generate._scene(1, SEED, SIZE, layout, "chelsea", tmp_path / "a")
    real_framing = generate.random_framing

    def reference_framing(rng, size):
        real_framing(rng, size)  # consume the same draws, so every look stays the same
        return generate.Framing()

    monkeypatch.setattr(generate, "random_framing", reference_framing)
    unframed, _, _ = generate._scene(1, SEED, SIZE, layout, "chelsea", tmp_path / "b")
    assert [(p.image_a, p.image_b, p.delta_v) for p in normal] == [
        (p.image_a, p.image_b, p.delta_v) for p in unframed
    ]
    assert (tmp_path / "a" / "I0001_01_02.png").read_bytes() != (
        tmp_path / "b" / "I0001_01_02.png"
    ).read_bytes()
    assert (tmp_path / "a" / "I0001_03_01.png").read_bytes() == (
        tmp_path / "b" / "I0001_03_01.png"
    ).read_bytes()


def test_proxy_is_not_a_pixel_baseline(tmp_path):
    """Mean CIE76 / CIEDE2000 over pixels correlate with the proxy ΔV but do not reproduce it."""
    from scipy.stats import spearmanr
    from skimage.color import deltaE_cie76, deltaE_ciede2000, rgb2lab

    out = tmp_path / "s"
    synthesize(out, scenes=4, seed=2, size=SIZE, pairs_per_scene=30)
    pairs = [p for split in ("train", "val", "test") for p in read_spcd_csv(out / f"{split}.csv")]
    lab = {}
    for p in pairs:
        for name in p.key:
            lab.setdefault(name, rgb2lab(np.asarray(Image.open(out / "images" / name)) / 255.0))
    dv = [p.delta_v for p in pairs]
    for metric in (deltaE_cie76, deltaE_ciede2000):
        baseline = [float(metric(lab[p.image_a], lab[p.image_b]).mean()) for p in pairs]
        rho = spearmanr(baseline, dv)[0]
        assert 0.2 < rho < 0.95, (metric.__name__, rho)


def test_reuse_mismatch_overwrite_and_resume(tmp_path, monkeypatch):
    out = tmp_path / "r"
    synthesize(out, scenes=3, seed=0, size=32, pairs_per_scene=3)
    reference = _files(out)
    assert synthesize(out, scenes=3, seed=0, size=32, pairs_per_scene=3).reused
    with pytest.raises(DataError, match="other parameters"):
        synthesize(out, scenes=3, seed=1, size=32, pairs_per_scene=3)
    assert not synthesize(out, scenes=3, seed=1, size=32, pairs_per_scene=3, overwrite=True).reused
    assert _files(out) != reference

    # An interrupted run (annotations never written) resumes and keeps the images it had written.
    resumed = tmp_path / "resumed"
    real_write = generate._write_annotations
    monkeypatch.setattr(
        generate, "_write_annotations", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        synthesize(resumed, scenes=3, seed=0, size=32, pairs_per_scene=3)
    assert not (resumed / "synth_meta.json").exists() and (resumed / ".synth_in_progress.json").exists()
    monkeypatch.setattr(generate, "_write_annotations", real_write)
    summary = synthesize(resumed, scenes=3, seed=0, size=32, pairs_per_scene=3)
    assert summary.images_kept == summary.images > 0
    assert _files(resumed) == reference


def test_foreign_folder_and_bad_arguments(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="holds no synthetic set"):
        synthesize(tmp_path, scenes=3, seed=0, size=32, pairs_per_scene=3)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "holiday.jpg").write_text("not ours")
    (tmp_path / "images" / "I9999_01_01.png").write_text("stale")
    synthesize(tmp_path, scenes=3, seed=0, size=32, pairs_per_scene=3, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # overwrite removes only generator outputs
    assert (tmp_path / "images" / "holiday.jpg").read_text() == "not ours"
    assert not (tmp_path / "images" / "I9999_01_01.png").exists()
    synthesize(tmp_path, scenes=4, seed=0, size=32, pairs_per_scene=3, overwrite=True)
    assert (
        len(read_spcd_csv(tmp_path / "train.csv"))
        + len(read_spcd_csv(tmp_path / "val.csv"))
        + len(read_spcd_csv(tmp_path / "test.csv"))
        == 4 * 3
    )
    with pytest.raises(ValueError, match="≥ 3"):
        split_scenes(2, 0)
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "x"), "--scenes", "2"])
    assert "--scenes must be ≥ 3" in capsys.readouterr().err


def test_small_n_keeps_every_split_non_empty():
    for scenes in range(3, 30):
        splits = split_scenes(scenes, seed=scenes)
        assert all(splits.values()) and sum(map(len, splits.values())) == scenes
    big = split_scenes(100, 0)
    assert {k: len(v) for k, v in big.items()} == {"train": 70, "val": 10, "test": 20}


def test_cli_synth(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path / "c"),
                "--scenes",
                "3",
                "--seed",
                "4",
                "--size",
                "32",
                "--pairs-per-scene",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    assert "3 scenes" in capsys.readouterr().out
    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path / "c"),
                "--scenes",
                "3",
                "--seed",
                "4",
                "--size",
                "32",
                "--pairs-per-scene",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    assert "reused existing set" in capsys.readouterr().out
    groups = defaultdict(int)
    for pair in read_spcd_csv(tmp_path / "c" / "train.csv"):
        groups[is_pixel_aligned(pair.image_a, pair.image_b)] += 1
    assert groups[False] == groups[True] // 2
