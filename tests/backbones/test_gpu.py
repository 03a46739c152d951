"""GPU only (opt-in: `-m gpu`): Qwen2.5-VL-7B-sized random weights in bf16 score through the HF backbone."""

import pytest
import torch

pytestmark = pytest.mark.gpu


def test_qwen2_5_vl_7b_random_bf16_forward_and_batch_invariance():
    import numpy as np

    from cdreasoning.backbones.tiny_presets import qwen2_5_vl_7b

    backbone = qwen2_5_vl_7b("cuda", torch.bfloat16)
    prompt = backbone.prompt("<|image|><|image|>\nQ?", "", "The color difference between these two images is")
    rng = np.random.default_rng(0)
    pairs = [
        backbone.load_pair(*(rng.integers(0, 256, (448, 448, 3), dtype=np.uint8) for _ in range(2)))
        for _ in range(4)
    ]
    with torch.inference_mode():
        alone = torch.cat([backbone.answer_logits(prompt, backbone.collate([p])) for p in pairs]).float()
        batched = backbone.answer_logits(prompt, backbone.collate(pairs)).float()
    assert torch.isfinite(batched).all()
    assert (alone.softmax(-1) - batched.softmax(-1)).abs().max() < 1e-2  # bf16
