"""Data-parallel scoring: 2 gloo processes under torchrun give the file a single process writes."""

import os
import socket
import subprocess
import sys

import pytest

from cdreasoning.inference.sharding import Shard
from tests.conftest import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_shard_selection_covers_every_pair_once():
    from types import SimpleNamespace

    pairs = [SimpleNamespace(index=i) for i in range(11)]
    shards = [Shard(rank, 3, rank).select(pairs) for rank in range(3)]
    assert sorted(p.index for s in shards for p in s) == list(range(11))
    assert [p.index for p in shards[1]] == [1, 4, 7, 10]
    assert Shard(1, 3).part_path("runs/scores.csv").name == "scores.part00001-of-00003.csv"


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["owl2", "qwen2_5_vl"])
def test_torchrun_two_ranks_equal_a_single_process(backbone, tiny_checkpoint, pair_folder, tmp_path):
    if backbone == "owl2":
        checkpoint = tiny_checkpoint
    else:
        from cdreasoning.backbones.tiny_presets import write_hf_preset

        checkpoint = write_hf_preset("tiny-qwen2_5_vl", tmp_path / "qwen")
    pairs = tmp_path / "pairs.csv"
    rows = [f"img{i}.png,img{(i * 3 + 1) % 8}.png,{i / 2}" for i in range(7)] + ["img0.png,absent.png,1.0"]
    pairs.write_text("\n".join(rows) + "\n")
    common = ["score", "--model-path", str(checkpoint), "--device", "cpu", "--pairs", str(pairs)]
    common += ["--image-folder", str(pair_folder), "--batch-size", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    single = subprocess.run(
        [sys.executable, "-m", "cdreasoning", *common, "--out", str(tmp_path / "single.csv")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert single.returncode == 1, single.stderr[-2000:]  # one pair has a missing image

    def torchrun(out):
        launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
        launch += ["--master_port", str(_free_port()), "-m", "cdreasoning", *common, "--out", str(out)]
        return subprocess.run(launch, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)

    sharded = torchrun(tmp_path / "sharded.csv")
    assert sharded.returncode == 1, sharded.stderr[-3000:]
    assert "merged 2 parts" in sharded.stderr
    assert (tmp_path / "sharded.csv").read_text() == (tmp_path / "single.csv").read_text()
    parts = sorted(p.name for p in tmp_path.glob("sharded.part*.csv"))
    assert parts == ["sharded.part00000-of-00002.csv", "sharded.part00001-of-00002.csv"]
    if backbone == "owl2":
        # rerun: each part resumes (only the failed pair is tried again); the merge is the same file
        (tmp_path / "sharded.csv").unlink()
        again = torchrun(tmp_path / "sharded.csv")
        assert "resuming: 4 of 4" in again.stderr and "resuming: 3 of 4" in again.stderr
        assert (tmp_path / "sharded.csv").read_text() == (tmp_path / "single.csv").read_text()
