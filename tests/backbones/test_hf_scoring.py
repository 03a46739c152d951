"""Scoring and describing through the HF VLM backbone on every tiny family preset."""

import math

import numpy as np
import pytest
import torch

from cdreasoning import CDScorer
from cdreasoning.backbones import detect_backbone
from cdreasoning.constants import CD_LEVELS
from tests.backbones.conftest import HF_FAMILIES


@pytest.fixture(scope="module", params=HF_FAMILIES)
def hf_scorer(request, hf_checkpoints):
    return CDScorer.from_pretrained(hf_checkpoints[request.param], device="cpu", dtype="float32")


def test_detection_from_model_type(hf_checkpoints, tiny_checkpoint):
    assert detect_backbone(tiny_checkpoint) == "mplug_owl2"
    for path in hf_checkpoints.values():
        assert detect_backbone(path) == "hf_vlm"


def test_batch_1_and_8_give_the_same_score(hf_scorer, pair_folder):
    pairs = [(pair_folder / f"img{i}.png", pair_folder / f"img{(i * 3 + 1) % 8}.png") for i in range(8)]
    alone = [r.score for r in hf_scorer.score_pairs(pairs, batch_size=1)]
    batched = [r.score for r in hf_scorer.score_pairs(pairs, batch_size=8)]
    assert max(abs(a - b) for a, b in zip(alone, batched)) <= 1e-4
    assert len({round(s, 6) for s in alone}) > 1  # different pairs, different scores (not a constant)


def test_result_invariants_and_level_tokens(hf_scorer, pair_folder):
    result = hf_scorer.score(pair_folder / "img0.png", pair_folder / "img1.png")
    assert list(result.probabilities) == list(CD_LEVELS)
    assert math.isclose(sum(result.probabilities.values()), 1.0, rel_tol=1e-5)
    expected = sum(p * w for p, w in zip(result.probabilities.values(), (0, 1.25, 2.5, 3.75, 5)))
    assert math.isclose(result.score, expected, rel_tol=1e-5)
    # byte-level BPE: each level word after a space is one token "Ġword"
    tokens = hf_scorer.tokenizer.convert_ids_to_tokens(hf_scorer._level_ids)
    assert tokens == ["Ġ" + w for w in CD_LEVELS]


def test_logits_are_those_of_the_processor_and_model_called_directly(hf_scorer, pair_folder):
    """Independent path: the checkpoint's own chat template via the processor, the model called by hand."""
    from PIL import Image

    processor, model = hf_scorer.image_processor, hf_scorer.model
    images = [Image.open(pair_folder / f"img{i}.png").convert("RGB") for i in (2, 3)]
    answer = "The color difference between these two images is"
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Q?"}]},
        {"role": "assistant", "content": answer},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    text = text[: text.rfind(answer) + len(answer)]
    scorer = CDScorer(model, None, processor, type(hf_scorer.prompt)(question="Q?"))
    inputs = processor(text=[text], images=[images], add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    level_ids = [processor.tokenizer.convert_tokens_to_ids("Ġ" + w) for w in CD_LEVELS]
    expected = logits[level_ids].softmax(-1)
    got = scorer.score(pair_folder / "img2.png", pair_folder / "img3.png").probabilities
    assert np.allclose(list(got.values()), expected.numpy(), atol=1e-6)


def test_describe_generates_text(hf_scorer, pair_folder):
    pairs = [
        (pair_folder / "img0.png", pair_folder / "img5.png"),
        (pair_folder / "img1.png", pair_folder / "img2.png"),
    ]
    single = [hf_scorer.describe(a, b, max_new_tokens=6).text for a, b in pairs]
    batched = [d.text for _, d, _ in hf_scorer.iter_descriptions(pairs, batch_size=2, max_new_tokens=6)]
    assert all(isinstance(t, str) for t in single)
    assert single == batched  # greedy decoding of a left-padded batch gives each pair its own text


def test_qwen_image_tokens_follow_dynamic_resolution(hf_checkpoints):
    """A 48×64 image with 8-px patches, 2×2 merge (factor 16): smart_resize keeps 48×64 (3,072 px within
    [256, 4096]) → grid 1×6×8 = 48 patches → 12 image tokens (hand computation of Qwen's rule)."""
    from cdreasoning.backbones.hf_vlm import load_hf_processor

    processor = load_hf_processor(hf_checkpoints["tiny-qwen2_5_vl"])
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    text = "<|vision_start|><|image_pad|><|vision_end|>hi"
    out = processor(text=[text], images=[[image]], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 6, 8]]
    assert out["pixel_values"].shape == (48, 3 * 2 * 8 * 8)
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((out["input_ids"] == pad).sum()) == 12


def test_max_pixels_caps_the_image_tokens(hf_checkpoints, pair_folder):
    from cdreasoning.backbones.hf_vlm import load_hf_backbone

    capped = load_hf_backbone(
        hf_checkpoints["tiny-qwen2_5_vl"], device="cpu", dtype="float32", max_pixels=16 * 16
    )
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    out = capped.inputs(["<|vision_start|><|image_pad|><|vision_end|>"], [[image]])
    assert out["image_grid_thw"].tolist() == [[1, 2, 2]]  # 16×16 px → 2×2 patches → 1 token


def test_bench_model_prints_pairs_per_second_for_any_backbone(hf_checkpoints, tiny_checkpoint, capsys):
    import importlib.util

    from tests.conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("bench_model", REPO_ROOT / "scripts" / "bench_model.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for path in (hf_checkpoints["tiny-idefics3"], tiny_checkpoint):
        args = ["--model-path", str(path), "--device", "cpu", "--batch-sizes", "1,2"]
        assert bench.main([*args, "--iters", "1", "--warmup", "0", "--image-size", "32"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "pairs/s" in lines[1] and [line.split()[0] for line in lines[2:]] == ["1", "2"]
        assert all(float(line.split()[1]) > 0 for line in lines[2:])


def test_qwen2_5_vl_7b_sizes_for_the_gpu_benchmark():
    """The bench's random Qwen2.5-VL-7B (built on the meta device here): 8.29 B parameters as released, and a
    448×448 image is 32×32 patches of 14 px → 256 tokens after the 2×2 merge."""
    from cdreasoning.backbones.tiny_presets import qwen2_5_vl_7b

    backbone = qwen2_5_vl_7b("meta", torch.bfloat16)
    assert sum(p.numel() for p in backbone.model.parameters()) == 8_292_166_656
    image = np.zeros((448, 448, 3), dtype=np.uint8)
    inputs = backbone.inputs(["<|vision_start|><|image_pad|><|vision_end|>"], [[image]])
    assert inputs["image_grid_thw"].tolist() == [[1, 32, 32]]
    assert int((inputs["input_ids"] == backbone.processor.image_token_id).sum()) == 256
