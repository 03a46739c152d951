"""Pairs for CD-Flow: reproducible independent augmentation, evaluation sizes, epoch order, data errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cdreasoning.cdflow.data import (
    EvalPairs,
    TrainPairs,
    augment_image,
    default_eval_size,
    epoch_batches,
    prepare_eval_pair,
    train_geometry,
)
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.errors import DataError


def _write(path, rgb):
    Image.fromarray(rgb).save(path)
    return path


def _pairs(tmp_path, sizes=((40, 40), (40, 40))):
    rng = np.random.default_rng(0)
    names = []
    for i, (w, h) in enumerate(sizes):
        _write(tmp_path / f"I0001_0{i + 1}_01.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        names.append(f"I0001_0{i + 1}_01.png")
    return [SpcdPair(names[0], names[1], 3.5, 1)]


def test_geometry_scales_the_paper_sizes():
    assert train_geometry(768) == (1024, 1000)
    assert train_geometry(64) == (85, 83)
    assert default_eval_size(768, 64) == 1024  # the paper tests at 1024
    assert default_eval_size(64, 8) == 88
    assert default_eval_size(64, 64) == 64


def test_augmentation_is_reproducible_and_independent_per_image(tmp_path):
    pairs = _pairs(tmp_path)
    data = TrainPairs(pairs, tmp_path, csv_path="train.csv", image_size=32, seed=7)
    x1, y1, dv, index = data[(0, 0)]
    x2, y2, _, _ = data[(0, 0)]
    assert x1.shape == y1.shape == (3, 32, 32) and x1.dtype == torch.float32
    assert torch.equal(x1, x2) and torch.equal(y1, y2)  # a function of (seed, epoch, index)
    assert float(dv) == 3.5 and index == 0
    assert not torch.equal(data[(1, 0)][0], x1)  # another epoch, another view
    assert not torch.equal(TrainPairs(pairs, tmp_path, csv_path="t", image_size=32, seed=8)[(0, 0)][0], x1)
    assert 0.0 <= float(x1.min()) and float(x1.max()) < 1.0  # (v + U[0, 1)) / 256


def test_same_image_gets_two_different_views(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    _write(tmp_path / "I0001_01_01.png", rgb)
    data = TrainPairs(
        [SpcdPair("I0001_01_01.png", "I0001_01_01.png", 1.0, 1)],
        tmp_path,
        csv_path="t",
        image_size=32,
        seed=0,
        dequantize=False,
    )
    x, y, _, _ = data[(0, 0)]
    assert not torch.equal(x, y)  # independent rotation / crop of the two images


def test_rotated_corners_hold_image_content_not_black():
    white = np.full((300, 300, 3), 255, np.uint8)
    for seed in range(5):
        view = augment_image(white, np.random.default_rng(seed), image_size=96)
        assert view.shape == (96, 96, 3)
        assert view.min() == 255  # the original filled ~0.9 % of each crop with black


def test_without_dequantisation_values_are_v_over_255(tmp_path):
    _write(tmp_path / "I0001_01_01.png", np.full((40, 40, 3), 51, np.uint8))
    data = TrainPairs(
        [SpcdPair("I0001_01_01.png", "I0001_01_01.png", 1.0, 1)],
        tmp_path,
        csv_path="t",
        image_size=32,
        seed=0,
        dequantize=False,
    )
    assert torch.allclose(data[(0, 0)][0], torch.full((3, 32, 32), 0.2))


def test_epoch_batches_cover_every_pair_and_resume_mid_epoch():
    batches = epoch_batches(10, 4, seed=3, epoch=2)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(i for b in batches for _, i in b) == list(range(10))
    assert all(e == 2 for b in batches for e, _ in b)
    assert epoch_batches(10, 4, seed=3, epoch=2, start_batch=1) == batches[1:]
    assert epoch_batches(10, 4, seed=3, epoch=3) != batches


def test_eval_preprocessing_common_size_and_valid_multiples(tmp_path):
    pairs = _pairs(tmp_path, sizes=((50, 40), (60, 45)))
    a, b = prepare_eval_pair(tmp_path / pairs[0].image_a, tmp_path / pairs[0].image_b, None, 8)
    assert a.shape == b.shape == (40, 48, 3)  # common size 50×40 (the smaller extent), cropped to ×8
    a, b = prepare_eval_pair(tmp_path / pairs[0].image_a, tmp_path / pairs[0].image_b, 16, 8)
    assert a.shape == (16, 16, 3)  # shorter side 16, longer 20 → 16
    data = EvalPairs(pairs, tmp_path, csv_path="test.csv", eval_size=32, multiple=16)
    x, y, _, _ = data[0]
    assert x.shape == y.shape == (3, 32, 32)
    with pytest.raises(ValueError, match="multiple of 8"):
        prepare_eval_pair(tmp_path / pairs[0].image_a, tmp_path / pairs[0].image_b, 20, 8)
    with pytest.raises(DataError, match="smaller than the model's minimum side 64"):
        prepare_eval_pair(tmp_path / pairs[0].image_a, tmp_path / pairs[0].image_b, None, 64)


def test_unreadable_or_missing_images_name_the_csv_line(tmp_path):
    (tmp_path / "I0001_01_01.png").write_bytes(b"not a png")
    _write(tmp_path / "I0001_02_01.png", np.zeros((40, 40, 3), np.uint8))
    pairs = [SpcdPair("I0001_01_01.png", "I0001_02_01.png", 2.0, 7)]
    with pytest.raises(DataError, match=r"train\.csv:7: .*I0001_01_01\.png: cannot read image"):
        TrainPairs(pairs, tmp_path, csv_path="train.csv", image_size=32, seed=0)[(0, 0)]
    with pytest.raises(DataError, match=r"test\.csv:7: .*cannot read image"):
        EvalPairs(pairs, tmp_path, csv_path="test.csv", eval_size=None, multiple=8)[0]


def test_bad_csv_names_file_and_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("I0001_01_01.png,I0001_02_01.png,2.5\nI0001_01_01.png,I0001_03_01.png,abc\n")
    with pytest.raises(DataError, match=r"train\.csv:2: ΔV 'abc' is not a number"):
        read_spcd_csv(path)
