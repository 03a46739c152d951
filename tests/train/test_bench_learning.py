"""scripts/bench_learning.py's --position-scale: the initial checkpoint differs from the preset's by exactly that
factor on the vision position embeddings and nowhere else."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from tests.conftest import REPO_ROOT


def test_position_scale_rewrites_only_the_position_embeddings(tiny_checkpoint, tmp_path):
    from safetensors.torch import load_file

    spec = importlib.util.spec_from_file_location(
        "bench_learning", REPO_ROOT / "scripts" / "bench_learning.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    copy = tmp_path / "model.safetensors"
    shutil.copy(tiny_checkpoint / "model.safetensors", copy)
    bench._scale_positions(copy, 10.0)
    before, after = load_file(tiny_checkpoint / "model.safetensors"), load_file(copy)
    key = "model.vision_model.embeddings.position_embedding"
    assert after[key].equal(before[key] * 10)
    assert set(after) == set(before)
    assert all(after[name].equal(before[name]) for name in before if name != key)


def test_position_scale_must_be_positive(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "bench_learning", REPO_ROOT / "scripts" / "bench_learning.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit, match="--position-scale must be > 0"):
        bench.main(["--out", str(tmp_path), "--position-scale", "0"])
