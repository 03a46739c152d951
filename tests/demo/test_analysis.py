"""The demo's analysis calls the project's own functions and gets their numbers: the model's through CDScorer,
the baselines' checked against colour-science, CD-Flow's through CDFlowMetric. The alignment check is checked
against the synthetic set's own labels."""

from __future__ import annotations

from types import SimpleNamespace

import colour
import numpy as np
import pytest
import torch
from PIL import Image

from cdreasoning.data.images import load_pair
from cdreasoning.demo import render
from cdreasoning.demo.analysis import ALIGNMENT_THRESHOLD, PairAnalyzer, mean_colour, structure_similarity


@pytest.fixture(scope="module")
def scorer(tiny_checkpoint):
    from cdreasoning import CDScorer

    return CDScorer.from_pretrained(tiny_checkpoint, device="cpu", dtype="float32")


def _paths(demo_set, pair):
    return demo_set / "images" / pair.image_a, demo_set / "images" / pair.image_b


def _colour_science_ciede2000(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    lab = [colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x.astype(np.float64) / 255.0)) for x in (rgb_a, rgb_b)]
    return float(np.mean(colour.delta_E(lab[0], lab[1], method="CIE 2000")))


def test_alignment_check_agrees_with_the_set_labels(demo_set, demo_pairs):
    right = 0
    for pair in demo_pairs:
        images = load_pair(*_paths(demo_set, pair))
        right += (structure_similarity(images.a, images.b) >= ALIGNMENT_THRESHOLD) == pair.aligned
    assert right / len(demo_pairs) >= 0.95, f"{right} of {len(demo_pairs)} pairs judged right"


def test_alignment_check_on_edits_and_shifts():
    from skimage import data

    photo = data.astronaut()[100:300, 150:350]
    warmer = np.clip(photo * np.array([1.15, 1.0, 0.8]), 0, 255).astype(np.uint8)
    darker = (255 * (photo / 255.0) ** 1.8).astype(np.uint8)
    shifted = data.astronaut()[103:303, 152:352]
    assert structure_similarity(photo, warmer) > 0.97
    assert structure_similarity(photo, darker) > ALIGNMENT_THRESHOLD
    assert structure_similarity(photo, shifted) < ALIGNMENT_THRESHOLD


def test_analysis_numbers_are_the_cli_numbers(scorer, demo_set, demo_pairs):
    from cdreasoning.evaluate.baseline import BaselineConfig, _compute_pair

    pair = next(p for p in demo_pairs if p.aligned)
    path_a, path_b = _paths(demo_set, pair)
    steps = []
    analysis = PairAnalyzer(scorer, max_new_tokens=12).analyse(
        path_a, path_b, progress=lambda fraction, step: steps.append((fraction, step))
    )
    assert analysis.score == scorer.score(path_a, path_b)
    assert analysis.description == scorer.describe(path_a, path_b, max_new_tokens=12)
    images = load_pair(path_a, path_b, 1024)
    assert analysis.ciede2000 == pytest.approx(_colour_science_ciede2000(images.a, images.b), abs=1e-3)
    scielab = _compute_pair(str(path_a), str(path_b), BaselineConfig(method="scielab"))
    assert analysis.scielab == pytest.approx(scielab, rel=1e-12)
    assert analysis.alignment.aligned and analysis.delta_e_map.shape == images.a.shape[:2]
    assert float(analysis.delta_e_map.mean(dtype=np.float64)) == pytest.approx(analysis.ciede2000, rel=1e-9)
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1] == (1.0, "done")
    numbers = analysis.to_dict()
    assert numbers["score"]["probabilities"] == analysis.score.probabilities
    assert numbers["delta_e00_map"]["mean"] == pytest.approx(analysis.ciede2000)


def test_not_aligned_pairs_get_no_map_unless_forced(scorer, demo_set, demo_pairs):
    pair = next(p for p in demo_pairs if not p.aligned)
    analyzer = PairAnalyzer(scorer, describe=False)
    analysis = analyzer.analyse(*_paths(demo_set, pair))
    assert not analysis.alignment.aligned and analysis.delta_e_map is None
    assert "two phone captures" in analysis.alignment.reason
    assert render.heat_map_image(analysis) is None
    assert "Not aligned" in render.colour_markdown(analysis)
    forced = analyzer.analyse(*_paths(demo_set, pair), force_aligned=True)
    assert forced.delta_e_map is not None
    picture = render.heat_map_image(forced)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3


def test_uploaded_names_decide_by_structure(scorer, tmp_path):
    from skimage import data

    photo = data.coffee()[100:228, 200:328]
    Image.fromarray(photo).save(tmp_path / "mine.png")
    Image.fromarray(np.clip(photo * np.array([1.1, 1.0, 0.9]), 0, 255).astype(np.uint8)).save(
        tmp_path / "b.png"
    )
    Image.fromarray(data.coffee()[104:232, 203:331]).save(tmp_path / "c.png")
    analyzer = PairAnalyzer(scorer, describe=False)
    edit = analyzer.analyse(tmp_path / "mine.png", tmp_path / "b.png")
    moved = analyzer.analyse(tmp_path / "mine.png", tmp_path / "c.png")
    assert edit.alignment.aligned and edit.alignment.similarity > ALIGNMENT_THRESHOLD
    assert not moved.alignment.aligned and "gradient correlation" in moved.alignment.reason


def test_mean_colours_of_flat_images(tmp_path, scorer):
    first, second = (30, 120, 200), (200, 90, 40)
    Image.new("RGB", (32, 32), first).save(tmp_path / "a.png")
    Image.new("RGB", (32, 32), second).save(tmp_path / "b.png")
    srgb, lab = mean_colour(np.asarray(Image.open(tmp_path / "a.png")))
    np.testing.assert_allclose(srgb * 255, first, atol=1e-3)
    np.testing.assert_allclose(lab, colour.XYZ_to_Lab(colour.sRGB_to_XYZ(np.array(first) / 255)), atol=1e-3)
    analysis = PairAnalyzer(scorer, describe=False).analyse(tmp_path / "a.png", tmp_path / "b.png")
    assert analysis.mean_colours == (first, second)
    expected = _colour_science_ciede2000(np.array([[first]], np.uint8), np.array([[second]], np.uint8))
    assert analysis.mean_colour_delta_e == pytest.approx(expected, abs=1e-3)
    assert analysis.ciede2000 == pytest.approx(expected, abs=1e-3)  # flat images: every pixel is that ΔE00


def test_cdflow_number_is_the_metric(scorer, demo_set, demo_pairs):
    from cdreasoning.cdflow import CDFlow, CDFlowMetric

    torch.manual_seed(0)
    flow = CDFlow(scales=2, steps=2, width=8)
    flow.data_init(torch.rand(2, 3, 64, 64))
    metric = CDFlowMetric(flow, eval_size=64, device="cpu")
    path_a, path_b = _paths(demo_set, demo_pairs[0])
    analysis = PairAnalyzer(scorer, metric, describe=False).analyse(path_a, path_b)
    assert analysis.cdflow == pytest.approx(float(metric(path_a, path_b)[0]), rel=1e-6)
    assert render.baseline_rows(analysis)[2][:2] == ["CD-Flow", round(analysis.cdflow, 4)]


def test_render_tables_from_a_known_description():
    from cdreasoning.inference.scorer import Description

    text = (
        "Slight variations in white balance, moderate color contrast. Dark details show severe distinctions."
    )
    from cdreasoning.evaluate import parse_severities

    analysis = SimpleNamespace(description=Description(text, parse_severities(text)))
    rows = dict(render.severity_rows(analysis))
    assert rows == {
        "white balance": "slight",
        "brightness/contrast": "not mentioned",
        "color contrast": "moderate",
        "overall brightness": "not mentioned",
        "overall color": "not mentioned",
        "dark details": "severe",
        "bright details": "not mentioned",
    }


def test_score_markdown_shows_an_interval_when_the_scorer_gives_one():
    numbers = {"score": 2.5, "level": "moderate", "delta_v": 4.8, "probabilities": {}}
    plain = SimpleNamespace(to_dict=lambda: {"score": dict(numbers)})
    assert "interval" not in render.score_markdown(plain)
    with_interval = SimpleNamespace(
        to_dict=lambda: {"score": {**numbers, "delta_v_low": 3.1, "delta_v_high": 7.2, "coverage": 0.8}}
    )
    text = render.score_markdown(with_interval)
    assert "Score 2.50 / 5" in text and "80% interval [3.10, 7.20]" in text
