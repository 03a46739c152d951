"""An HF VLM preset through the real launcher: `MODEL_PATH=… NUM_GPUS=2 sh scripts/finetune*.sh` with DeepSpeed
on two CPU ranks (gloo): ZeRO-2 LoRA and ZeRO-3 full fine-tuning of tiny Qwen2.5-VL."""

import json
import math

import pytest
from safetensors.torch import load_file

from tests.train.test_distributed import _launch, _train_records

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def test_zero2_lora_qwen2_5_vl_on_two_cpu_ranks(hf_checkpoints, synth_set, tmp_path):
    out = tmp_path / "zero2"
    checkpoint = hf_checkpoints["tiny-qwen2_5_vl"]
    _launch(
        "finetune_lora.sh",
        checkpoint,
        synth_set,
        out,
        "scripts/zero2.json",
        "--lora_r",
        "4",
        "--lora_alpha",
        "8",
    )
    assert (out / "checkpoint-2" / "global_step2").is_dir()  # a DeepSpeed engine, not DDP
    state = json.loads((out / "trainer_state.json").read_text())
    # 3 steps of 2 ranks × 2 samples: an epoch is ceil(n / 4) steps when the ranks split the data (not n / 2)
    assert state["epoch"] == pytest.approx(3 / math.ceil(_train_records(synth_set) / 4), rel=1e-3)
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert all("language_model" in k for k in adapter)  # the recipe's LoRA: LM only, projector frozen
    assert (out / "chat_template.jinja").is_file() and (out / "processor_config.json").is_file()


def test_zero3_full_qwen2_5_vl_on_two_cpu_ranks(hf_checkpoints, synth_set, tmp_path):
    from cdreasoning.backbones.hf_vlm import load_hf_backbone

    out = tmp_path / "zero3"
    checkpoint = hf_checkpoints["tiny-qwen2_5_vl"]
    _launch("finetune.sh", checkpoint, synth_set, out, "scripts/zero3.json")
    assert (out / "checkpoint-2" / "global_step2").is_dir()
    trained = load_hf_backbone(out, device="cpu", dtype="float32").model.state_dict()
    initial = load_hf_backbone(checkpoint, device="cpu", dtype="float32").model.state_dict()
    changed = {n for n, p in trained.items() if not (p == initial[n]).all()}
    assert any("language_model.layers" in n for n in changed)
    assert any("visual.merger" in n for n in changed) and not any("visual.blocks" in n for n in changed)
