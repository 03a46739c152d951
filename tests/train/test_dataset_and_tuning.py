"""Training data and tuning modes: labels on answers only, loud errors, exactly the requested parameters train."""

import json
from types import SimpleNamespace

import pytest
import torch

from cdreasoning import load_pretrained
from cdreasoning.constants import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from cdreasoning.data import DataError
from cdreasoning.model import MPLUGOwl2ForCausalLM
from cdreasoning.model.presets import preset_config
from cdreasoning.processing import ImageProcessor, get_template, load_tokenizer
from cdreasoning.train.dataset import ConversationDataset, DataCollator
from cdreasoning.train.tuning import configure_tuning, trainable_parameter_summary


def _dataset(tiny_checkpoint, paths, image_folder, template="v1", max_length=512, lazy=True):
    tokenizer = load_tokenizer(tiny_checkpoint)
    return ConversationDataset(
        paths,
        tokenizer,
        get_template(template),
        ImageProcessor(size=64),
        image_folder,
        max_length,
        image_tokens=9,
        lazy=lazy,
    ), tokenizer


@pytest.mark.parametrize("template", ["v1", "mplug_owl2"])
def test_batches_supervise_only_answers_and_eos(tiny_checkpoint, synth_set, template):
    dataset, tokenizer = _dataset(
        tiny_checkpoint, [synth_set / "train_mix.json"], synth_set / "images", template
    )
    samples = [dataset[i] for i in range(4)]
    batch = DataCollator(tokenizer.pad_token_id)(samples)
    assert batch["pixel_values"].shape == (8, 3, 64, 64)
    assert (batch["input_ids"] == IMAGE_TOKEN_INDEX).sum() == 8
    for row, record in enumerate(dataset.items[:4]):
        labels, ids = batch["labels"][row], batch["input_ids"][row]
        supervised = (labels != IGNORE_INDEX).nonzero().squeeze(1).tolist()
        text = tokenizer.decode(ids[supervised])
        assert text.replace("</s>", "").strip() == record.answer.strip()
        assert ids[supervised[-1]] == tokenizer.eos_token_id
        assert (labels[ids == IMAGE_TOKEN_INDEX] == IGNORE_INDEX).all()
        assert (labels[batch["attention_mask"][row] == 0] == IGNORE_INDEX).all()
        prompt_text = tokenizer.decode(ids[: supervised[0]][ids[: supervised[0]] >= 0])
        assert ("A chat between" in prompt_text) == (template == "v1")


def test_unusable_records_raise_naming_the_record(tiny_checkpoint, synth_set, tmp_path):
    records = json.loads((synth_set / "score_task" / "train_data.json").read_text())[:3]
    records[1]["image"][1] = "does-not-exist.png"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    dataset, _ = _dataset(tiny_checkpoint, [path], synth_set / "images")
    dataset[0]
    with pytest.raises(DataError, match=r"record #1 .*does-not-exist.png"):
        dataset[1]
    with pytest.raises(DataError, match="exceed --model_max_length 20"):
        _dataset(tiny_checkpoint, [path], synth_set / "images", max_length=20, lazy=False)


def _args(**overrides):
    base = dict(
        lora_enable=False,
        freeze_llm=False,
        tune_visual_abstractor=True,
        freeze_vision_model=True,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        lora_target_modules=["q_proj", "v_proj.multiway.1"],
        lora_bias="none",
        bits=16,
        gradient_checkpointing=False,
    )
    base.update(overrides)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(
    "flags, trains",
    [
        (dict(), {"llm", "visual_abstractor"}),
        (dict(freeze_vision_model=False), {"llm", "visual_abstractor", "vision_model"}),
        (dict(tune_visual_abstractor=False), {"llm"}),
        (dict(freeze_llm=True, freeze_vision_model=False), {"visual_abstractor", "vision_model"}),
    ],
)
def test_full_tuning_modes(tiny_checkpoint, flags, trains):
    model = configure_tuning(load_pretrained(tiny_checkpoint), _args(**flags))
    summary = trainable_parameter_summary(model)
    assert {part for part in ("llm", "visual_abstractor", "vision_model") if summary[part]} == trains
    for name, param in model.named_parameters():  # whole parts, nothing half-frozen
        part = (
            "vision_model"
            if "vision_model" in name
            else "visual_abstractor"
            if "visual_abstractor" in name
            else "llm"
        )
        assert param.requires_grad == (part in trains), name


def test_everything_frozen_is_an_error(tiny_checkpoint):
    with pytest.raises(ValueError, match="nothing to train"):
        configure_tuning(
            load_pretrained(tiny_checkpoint), _args(freeze_llm=True, tune_visual_abstractor=False)
        )


def test_lora_trains_only_adapters_on_the_targets(tiny_checkpoint):
    model = configure_tuning(
        load_pretrained(tiny_checkpoint), _args(lora_enable=True, tune_visual_abstractor=False)
    )
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    targets = {n.split(".lora_")[0].split("base_model.model.")[1] for n in trainable}
    assert targets == {
        f"model.layers.{i}.self_attn.{m}" for i in range(2) for m in ("q_proj", "v_proj.multiway.1")
    }


def test_lora_with_abstractor_saves_it_with_the_adapter(tiny_checkpoint):
    model = configure_tuning(load_pretrained(tiny_checkpoint), _args(lora_enable=True))
    summary = trainable_parameter_summary(model)
    assert (
        summary["lora"] > 0
        and summary["visual_abstractor"] > 0
        and summary["llm"] == summary["vision_model"] == 0
    )


def test_lora_on_7b_preset_is_exactly_the_recipe_size():
    with torch.device("meta"):
        model = MPLUGOwl2ForCausalLM(preset_config("owl2-7b"))
    model = configure_tuning(
        model,
        _args(
            lora_enable=True,
            lora_r=128,
            lora_alpha=256,
            lora_dropout=0.05,
            tune_visual_abstractor=False,
            freeze_vision_model=True,
        ),
    )
    assert trainable_parameter_summary(model)["total"] == 67_108_864
