"""Every shipped launcher and DeepSpeed config parses; --help documents the settings."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SCRIPTS = ["finetune.sh", "finetune_lora.sh", "_train_common.sh", "setup_env.sh", "test.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_syntax(script):
    shell = "bash" if script in ("setup_env.sh", "test.sh") else "sh"
    subprocess.run([shell, "-n", str(REPO_ROOT / "scripts" / script)], check=True)


@pytest.mark.parametrize("name", ["zero2.json", "zero3.json", "zero3_offload.json"])
def test_deepspeed_configs(name):
    config = json.loads((REPO_ROOT / "scripts" / name).read_text())
    stage = config["zero_optimization"]["stage"]
    assert stage == (2 if name == "zero2.json" else 3)
    assert config["train_micro_batch_size_per_gpu"] == "auto" and config["bf16"]["enabled"] == "auto"
    if stage == 3:
        assert config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    if "offload" in name:
        assert config["zero_optimization"]["offload_optimizer"]["device"] == "cpu"


@pytest.mark.parametrize("script", ["finetune.sh", "finetune_lora.sh"])
def test_launcher_help(script):
    result = subprocess.run(
        ["sh", f"scripts/{script}", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    for setting in (
        "MODEL_PATH",
        "DATA_PATH",
        "IMAGE_FOLDER",
        "OUTPUT_DIR",
        "NUM_GPUS",
        "HOSTFILE",
        "DEEPSPEED_CONFIG",
        "--lora_enable",
        "--deepspeed",
    ):
        assert setting in result.stdout
