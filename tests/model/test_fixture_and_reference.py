"""The model computes the original mPLUG-Owl2 function: on the original's own output (shared fixture) and, for
other shapes, against the independent reference in owl2_reference.py (itself checked on the fixture)."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from cdreasoning import MPLUGOwl2ForCausalLM, load_pretrained
from tests.conftest import shared_path
from tests.model.helpers import pad_batch, random_model, sample_inputs, small_config
from tests.model.owl2_reference import logits_one


@pytest.fixture(scope="module")
def fixture_dir():
    return shared_path("fixtures", "mplug_owl2_tiny")


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_reproduces_original_logits(fixture_dir, attention):
    model = load_pretrained(fixture_dir, attention=attention)
    inputs = load_file(fixture_dir / "inputs.safetensors")
    expected = load_file(fixture_dir / "expected.safetensors")
    with torch.no_grad():
        out = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            pixel_values=inputs["pixel_values"],
        )
    assert out.logits.shape == expected["logits"].shape
    assert int(expected["lengths"][0]) == out.logits.shape[1]
    assert (out.logits - expected["logits"]).abs().max() <= 1e-4


def test_fixture_loads_through_automodel(fixture_dir):
    import cdreasoning  # noqa: F401  (registers mplug_owl2)

    config = AutoConfig.from_pretrained(fixture_dir, local_files_only=True)
    assert config.model_type == "mplug_owl2"
    model = AutoModelForCausalLM.from_pretrained(
        fixture_dir, local_files_only=True, dtype=torch.float32
    ).eval()
    assert isinstance(model, MPLUGOwl2ForCausalLM)
    inputs = load_file(fixture_dir / "inputs.safetensors")
    expected = load_file(fixture_dir / "expected.safetensors")
    with torch.no_grad():
        logits = model(**inputs).logits
    assert (logits - expected["logits"]).abs().max() <= 1e-4


def test_reference_agrees_with_original(fixture_dir):
    inputs = load_file(fixture_dir / "inputs.safetensors")
    expected = load_file(fixture_dir / "expected.safetensors")
    config = json.loads((fixture_dir / "config.json").read_text())
    ref = logits_one(
        load_file(fixture_dir / "model.safetensors"),
        config,
        inputs["input_ids"][0].tolist(),
        list(inputs["pixel_values"]),
    )
    assert (ref.float() - expected["logits"][0]).abs().max() <= 1e-4


@pytest.mark.parametrize(
    "shape",
    [
        dict(layers=3, hidden=64, heads=4),
        dict(layers=4, hidden=96, heads=6, kv_heads=2, queries=6, vit_layers=3, abstractor_layers=1),
        dict(layers=2, hidden=32, heads=2, image=48, patch=12, queries=3, theta=500000.0),
    ],
    ids=["more-layers", "gqa-wider", "other-grid"],
)
def test_other_sizes_match_reference(shape, tmp_path):
    config = small_config(**shape)
    model = random_model(config, seed=1)
    model.save_pretrained(tmp_path)
    loaded = load_pretrained(tmp_path)
    samples = sample_inputs(config, lengths=[(5, 3)], images_per_sample=2, seed=2)
    ids, images = samples[0]
    with torch.no_grad():
        ours = loaded(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images)).logits[0]
    ref = logits_one(loaded.state_dict(), json.loads((tmp_path / "config.json").read_text()), ids, images)
    assert (ours - ref.float()).abs().max() <= 1e-4


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_matches_each_sample_alone_and_reference(side):
    config = small_config(layers=3)
    model = random_model(config, seed=3)
    # different text lengths and different numbers of images per sample
    samples = sample_inputs(config, lengths=[(2, 6), (7, 1), (4, 4)], images_per_sample=2, seed=4)
    samples.append(sample_inputs(config, lengths=[(3, 2)], images_per_sample=1, seed=5)[0])
    input_ids, mask, pixels = pad_batch(samples, side=side)
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels)
    k = config.image_tokens
    for row, (ids, images) in enumerate(samples):
        with torch.no_grad():
            alone = model(input_ids=torch.tensor([ids]), pixel_values=torch.stack(images)).logits[0]
        valid = out.attention_mask[row].bool()
        assert int(valid.sum()) == len(ids) + (k - 1) * len(images)
        batched = out.logits[row][valid]
        assert (batched - alone).abs().max() <= 1e-5
    # and the padded batch agrees with the independent reference too
    ids, images = samples[1]
    valid = out.attention_mask[1].bool()
    ref = logits_one(model.state_dict(), json.loads(config.to_json_string()), ids, images)
    assert (out.logits[1][valid] - ref.float()).abs().max() <= 1e-4
