"""TrainSettings: the dashed flags and the original scripts' aliases give the same settings; validation in one
place names the flag; the resume identity keeps the keys of the first release's last.pt."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdreasoning.cdflow.config import preset_config
from cdreasoning.cdflow.train_settings import RESUME_IDENTITY, TrainSettings, build_parser, settings_from_argv

DASHED = ["--image-folder", "imgs", "--datapath", "d", "--work-path", "w", "--batch-size", "8", "--epochs", "3",
          "--lr", "2e-3", "--lr-decay-epochs", "2", "--lr-decay", "0.25", "--image-size", "64", "--preset", "small",
          "--no-ema-warmup", "--no-dequantize", "--no-test", "--no-tensorboard", "--no-progress", "--threads", "1",
          "--resume", "none", "--max-steps", "5"]  # fmt: skip
ORIGINAL = ["--training_datadir", "imgs", "--datapath", "d", "--work_path", "w", "--batch_size_train", "8",
            "--n_epochs", "3", "--learning_rate", "2e-3", "--scheduler_step", "2", "--scheduler_gamma", "0.25",
            "--image_size", "64", "--preset", "small", "--no_ema_warmup", "--no_dequantize", "--no_test",
            "--no_tensorboard", "--no_progress", "--threads", "1", "--resume_path", "none",
            "--max_steps", "5"]  # fmt: skip


def test_dashed_flags_and_original_aliases_give_the_same_settings():
    dashed, original = settings_from_argv(DASHED), settings_from_argv(ORIGINAL)
    assert dashed == original
    expected = TrainSettings(training_datadir=Path("imgs"), datapath=Path("d"), work_path=Path("w"),
                             batch_size_train=8, epochs=3, lr=2e-3, lr_decay_epochs=2, lr_decay=0.25,
                             image_size=64, preset="small", ema_warmup=False, dequantize=False, test=False,
                             tensorboard=False, progress=False, threads=1, resume="none",
                             max_steps=5)  # fmt: skip
    assert dashed == expected


def test_help_shows_the_dashed_spelling_first():
    text = build_parser().format_help()
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("--batch-size BATCH_SIZE_TRAIN, --batch-size-train") for line in lines)
    assert any(line.startswith("--image-size IMAGE_SIZE, --image_size IMAGE_SIZE") for line in lines)
    assert any(line.startswith("--image-folder IMAGE_FOLDER, --training_datadir") for line in lines)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size_train": 0}, "--batch-size must be ≥ 1, got 0"),
        ({"lr": 0.0}, "--lr must be positive"),
        ({"ema": 1.0}, "--ema must be in [0, 1)"),
        ({"threads": 0}, "--threads must be ≥ 1"),
        ({"preset": "huge"}, "unknown --preset 'huge'"),
        ({"max_steps": -1}, "--max-steps must be ≥ 0"),
    ],
)
def test_validation_names_the_flag(changes, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        TrainSettings(training_datadir=Path("x"), **changes)


def test_resolved_fills_the_eval_size_and_checks_the_multiple():
    small = preset_config("small")  # 3 scales: multiples of 8
    settings = TrainSettings(training_datadir=Path("x"), image_size=64)
    assert settings.eval_size is None
    # 64·1024/768 = 85.3 → nearest multiple of 8 (hand computation): 88
    assert settings.resolved(small).eval_size == 88
    with pytest.raises(ValueError, match="--image-size 60 is not a multiple of 2\\*\\*scales = 8"):
        TrainSettings(training_datadir=Path("x"), image_size=60).resolved(small)
    identity = settings.resolved(small).identity(small)
    assert tuple(identity) == RESUME_IDENTITY
    assert identity["config"] == {"scales": 3, "steps": 4, "width": 32}
    assert identity["batch_size_train"] == 4 and identity["ema_warmup"] is True


def test_the_training_modules_do_not_import_transformers():
    """CD-Flow needs torch only: its training command loads no transformers (≈ 380 MiB, seconds)."""
    import subprocess
    import sys

    code = (
        "import sys, cdreasoning.cdflow.train, cdreasoning.cdflow.train_setup, cdreasoning.cdflow.train_loop, "
        "cdreasoning.cdflow.test; print('transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
