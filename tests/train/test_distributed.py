"""Two CPU processes (gloo) through the real launchers with DeepSpeed ZeRO-3 (full) and ZeRO-2 (LoRA).

Each run is a subprocess (`sh scripts/finetune*.sh`, as users start it). The assertions check that DeepSpeed really
ran (its `global_step*` state in the checkpoint), that the two ranks split the data (the epoch fraction after N
steps is 2·N·batch / dataset size, not half of it), and what was saved.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from cdreasoning import load_pretrained
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(script, tiny_checkpoint, synth_set, out, config, *extra):
    env = dict(
        os.environ,
        NUM_GPUS="2",
        DEEPSPEED_CONFIG=config,
        MODEL_PATH=str(tiny_checkpoint),
        DATA_PATH=str(synth_set / "score_task" / "train_data.json"),
        IMAGE_FOLDER=str(synth_set / "images"),
        OUTPUT_DIR=str(out),
        MASTER_PORT=str(_free_port()),
        PYTHON=sys.executable,
        WORKERS="0",
    )
    result = subprocess.run(
        [
            "sh",
            f"scripts/{script}",
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "2",
            "--save_steps",
            "2",
            "--report_to",
            "none",
            "--logging_steps",
            "1",
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _train_records(synth_set) -> int:
    return len(json.loads((synth_set / "score_task" / "train_data.json").read_text()))


def test_zero3_full_finetune_on_two_cpu_ranks(tiny_checkpoint, synth_set, tmp_path):
    out = tmp_path / "zero3"
    # with the soft-label score loss (computed by the Trainer subclass from the logits, under ZeRO-3)
    _launch("finetune.sh", tiny_checkpoint, synth_set, out, "scripts/zero3.json", "--score_loss", "soft")
    assert (out / "checkpoint-2" / "global_step2").is_dir()  # a DeepSpeed engine, not DDP
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert all("score_kl" in e for e in state["log_history"] if "loss" in e)
    assert state["epoch"] == pytest.approx(3 * 2 * 2 / _train_records(synth_set), rel=1e-3)
    trained, initial = (
        load_pretrained(out),
        load_pretrained(tiny_checkpoint),
    )  # gathered 16-bit weights, strict
    changed = {n for n, p in trained.state_dict().items() if not torch.equal(p, initial.state_dict()[n])}
    assert any(".layers." in n for n in changed) and any("visual_abstractor" in n for n in changed)
    assert not any("vision_model" in n for n in changed)  # frozen in the full recipe


def test_zero2_lora_on_two_cpu_ranks(tiny_checkpoint, synth_set, tmp_path):
    out = tmp_path / "zero2"
    _launch(
        "finetune_lora.sh",
        tiny_checkpoint,
        synth_set,
        out,
        "scripts/zero2.json",
        "--lora_r",
        "4",
        "--lora_alpha",
        "8",
        "--score_loss",
        "soft",
    )
    assert (out / "checkpoint-2" / "global_step2").is_dir()
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["epoch"] == pytest.approx(3 * 2 * 2 / _train_records(synth_set), rel=1e-3)
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
