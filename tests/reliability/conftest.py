"""Fixtures of the reliability tests: small images, a tiny checkpoint (tests/conftest.py), helpers to run a
command the way a user does (in a subprocess, so exit status, stderr and signals are real)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """Six 40×48 RGB images: img0.png … img5.png."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(1)
    for i in range(6):
        pixels = np.clip(rng.integers(0, 256, 3) + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
    return folder


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m cdreasoning ARGS` in a subprocess with the user's environment (plus `env`)."""
    full_env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cdreasoning", *args],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory) -> Path:
    """A small synthetic SPCD-like set made by the real generator (6 scenes, 64 px)."""
    from cdreasoning.data import synthesize

    out = tmp_path_factory.mktemp("synth") / "set"
    synthesize(out, scenes=6, seed=0, size=64, pairs_per_scene=8)
    return out


def train_argv(checkpoint, synth, out, *extra: str) -> list[str]:
    """A small `cdreasoning train` command line (tiny model, CPU, no logging to disk)."""
    return [
        "--model_name_or_path", str(checkpoint), "--data_path", str(synth / "train_mix.json"),
        "--image_folder", str(synth / "images"), "--output_dir", str(out), "--report_to", "none",
        "--per_device_train_batch_size", "4", "--learning_rate", "1e-3", "--logging_steps", "1",
        "--dataloader_num_workers", "0", "--seed", "7", "--model_max_length", "512", *extra,
    ]  # fmt: skip
