"""Presets: the real 7B sizes (on the meta device) and a tiny checkpoint written by `init-model`."""

import json

import pytest
import torch

from cdreasoning import MPLUGOwl2ForCausalLM, load_pretrained
from cdreasoning.cli import main as cli_main
from cdreasoning.model.presets import parameter_counts, preset_config
from cdreasoning.processing import ImageProcessor, load_tokenizer


def test_owl2_7b_parameter_counts_on_meta_device():
    with torch.device("meta"):
        model = MPLUGOwl2ForCausalLM(preset_config("owl2-7b"))
    counts = parameter_counts(model)
    assert counts["total"] == 8_197_859_328
    assert counts["visual_multiway"] == 1_074_003_968
    assert counts["vision_model"] == 303_966_208  # CLIP ViT-L/14 at 448 px (no projection head)
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.vocab_size) == (
        4096,
        32,
        11008,
        32000,
    )
    assert config.image_tokens == 65


def test_init_model_cli_writes_a_loadable_tiny_checkpoint(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert cli_main(["init-model", "--preset", "tiny", "--out", str(out), "--seed", "3"]) == 0
    assert "parameters" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.model",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "generation_config.json",
    } <= names
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "mplug_owl2"
    model = load_pretrained(out)
    tokenizer = load_tokenizer(out)
    assert model.config.vocab_size == len(tokenizer)
    assert ImageProcessor.from_pretrained(out).size == model.config.vision.image_size == 64
    # the same seed writes the same weights; refuses to overwrite without --overwrite
    with pytest.raises(FileExistsError, match="not empty"):
        cli_main(["init-model", "--preset", "tiny", "--out", str(out)])
    again = tmp_path / "again"
    cli_main(["init-model", "--preset", "tiny", "--out", str(again), "--seed", "3"])
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), load_pretrained(again).state_dict().values())
    )


def test_tiny_preset_draws_the_vision_position_embeddings_ten_times_larger(tiny_checkpoint):
    written = load_pretrained(tiny_checkpoint).state_dict()
    # The plain initialisation with the same seed, built here without the preset's writer.
    torch.manual_seed(0)
    plain = MPLUGOwl2ForCausalLM(
        preset_config("tiny", vocab_size=written["lm_head.weight"].shape[0])
    ).state_dict()
    key = "model.vision_model.embeddings.position_embedding"
    assert torch.allclose(written[key], 10 * plain[key])
    assert written[key].std().item() == pytest.approx(0.2, rel=0.15)  # initializer_range 0.02 × 10
    assert all(torch.equal(written[name], plain[name]) for name in plain if name != key)


def test_init_model_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["init-model", "--help"])
    assert info.value.code == 0
    assert "--preset" in capsys.readouterr().out


def test_unknown_command(capsys):
    assert cli_main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
