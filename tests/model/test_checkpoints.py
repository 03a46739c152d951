"""Saving and loading: names round-trip, every weight format loads, bad folders fail loudly."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from cdreasoning import CheckpointError, load_pretrained
from cdreasoning.model.loading import weight_files
from tests.conftest import shared_path
from tests.model.helpers import random_model, small_config


def _keys(path):
    with safe_open(str(path), framework="pt") as handle:
        return set(handle.keys())


def test_parameter_names_round_trip_with_original_layout(tmp_path):
    fixture = shared_path("fixtures", "mplug_owl2_tiny")
    model = load_pretrained(fixture)
    model.save_pretrained(tmp_path)
    assert _keys(tmp_path / "model.safetensors") == _keys(fixture / "model.safetensors")
    saved = json.loads((tmp_path / "config.json").read_text())
    original = json.loads((fixture / "config.json").read_text())
    assert saved["visual_config"] == original["visual_config"]
    for key in ("model_type", "hidden_size", "num_hidden_layers", "rope_theta", "rope_scaling", "vocab_size"):
        assert saved[key] == original[key]
    reloaded = load_pretrained(tmp_path)
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_sharded_safetensors_and_bin_formats_load(tmp_path):
    config = small_config()
    model = random_model(config)
    reference = model.state_dict()
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="100KB")
    assert (sharded / "model.safetensors.index.json").is_file() and len(weight_files(sharded)) > 1
    binary = tmp_path / "bin"
    binary.mkdir()
    (binary / "config.json").write_text((sharded / "config.json").read_text())
    torch.save({k: v.clone() for k, v in reference.items()}, binary / "pytorch_model.bin")
    for folder in (sharded, binary):
        loaded = load_pretrained(folder)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in reference.items())


def test_load_casts_dtype(tmp_path):
    random_model(small_config()).save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not model.training


def _checkpoint(tmp_path):
    random_model(small_config()).save_pretrained(tmp_path)
    return tmp_path, load_file(tmp_path / "model.safetensors")


def test_missing_and_unexpected_weights_are_listed(tmp_path):
    folder, state = _checkpoint(tmp_path)
    state.pop("model.layers.1.self_attn.v_proj.multiway.1.weight")
    state["model.layers.0.self_attn.extra.weight"] = torch.zeros(2)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as info:
        load_pretrained(folder)
    message = str(info.value)
    assert "Missing 1: [model.layers.1.self_attn.v_proj.multiway.1.weight]" in message
    assert "Unexpected 1: [model.layers.0.self_attn.extra.weight]" in message
    assert str(folder) in message


def test_wrong_shapes_are_reported(tmp_path):
    folder, state = _checkpoint(tmp_path)
    state["lm_head.weight"] = torch.zeros(5, 5)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="lm_head.weight"):
        load_pretrained(folder)


def test_derived_rotary_buffers_of_old_checkpoints_are_accepted(tmp_path):
    folder, state = _checkpoint(tmp_path)
    state["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    load_pretrained(folder)


def test_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(CheckpointError, match="model_type is 'llama'"):
        load_pretrained(tmp_path)
    random_model(small_config()).config.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="no weights found"):
        load_pretrained(tmp_path)


def test_bin_checkpoint_cannot_run_code(tmp_path):
    random_model(small_config()).config.save_pretrained(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_pretrained(tmp_path)


def test_inconsistent_config_is_rejected():
    config = small_config()
    config.visual_config["visual_abstractor"]["grid_size"] = 7
    with pytest.raises(ValueError, match="grid_size 7"):
        config.check_consistency()
