"""`cdreasoning train` end to end on a tiny model: full and LoRA runs, export, resume, optimizer groups."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from cdreasoning import CDScorer, load_pretrained
from cdreasoning.cli import main as cli_main
from cdreasoning.train.finetune import _newest_checkpoint
from cdreasoning.train.finetune import main as finetune


def _common(tiny_checkpoint, synth_set, out, *extra):
    return [
        "--model_name_or_path",
        str(tiny_checkpoint),
        "--data_path",
        str(synth_set / "train_mix.json"),
        "--image_folder",
        str(synth_set / "images"),
        "--output_dir",
        str(out),
        "--report_to",
        "none",
        "--per_device_train_batch_size",
        "4",
        "--learning_rate",
        "1e-3",
        "--logging_steps",
        "1",
        "--dataloader_num_workers",
        "0",
        "--seed",
        "7",
        "--model_max_length",
        "512",
        *extra,
    ]


def test_full_run_saves_a_checkpoint_that_loads_strictly(tiny_checkpoint, synth_set, tmp_path):
    out = tmp_path / "full"
    assert (
        finetune(
            _common(
                tiny_checkpoint,
                synth_set,
                out,
                "--max_steps",
                "3",
                "--save_steps",
                "2",
                "--freeze_vision_model",
                "False",
            )
        )
        == 0
    )
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 3 and all(l > 0 for l in losses)
    assert all(
        "tokens_per_second" in e and "samples_per_second" in e for e in state["log_history"] if "loss" in e
    )
    trained = load_pretrained(out)
    initial = load_pretrained(tiny_checkpoint)
    changed = {n for n, p in trained.named_parameters() if not torch.equal(p, initial.state_dict()[n])}
    assert any("vision_model" in n for n in changed) and any("layers" in n for n in changed)
    assert (out / "preprocessor_config.json").is_file() and (
        out / "checkpoint-2" / "preprocessor_config.json"
    ).is_file()
    # the SentencePiece model prompts are encoded with travels with every save (transformers 5 drops it)
    assert (out / "tokenizer.model").is_file() and (out / "checkpoint-2" / "tokenizer.model").is_file()
    CDScorer.from_pretrained(out, device="cpu").score(
        synth_set / "images" / "I0001_01_01.png", synth_set / "images" / "I0001_02_01.png"
    )


def test_lora_run_adapter_and_export(tiny_checkpoint, synth_set, tmp_path):
    out = tmp_path / "lora"
    assert (
        finetune(
            _common(
                tiny_checkpoint,
                synth_set,
                out,
                "--max_steps",
                "2",
                "--save_steps",
                "10",
                "--lora_enable",
                "True",
                "--lora_r",
                "4",
                "--lora_alpha",
                "8",
                "--tune_visual_abstractor",
                "True",
            )
        )
        == 0
    )
    adapter = load_file(out / "adapter_model.safetensors")
    assert any("lora_A" in k for k in adapter) and any("visual_abstractor" in k for k in adapter)
    assert not any("vision_model" in k for k in adapter)
    merged_dir = tmp_path / "merged"
    assert cli_main(["export", "--merge-lora", str(out), "--out", str(merged_dir)]) == 0
    merged = load_pretrained(merged_dir)  # strict: the original layout, no LoRA names
    assert (out / "tokenizer.model").is_file() and (merged_dir / "tokenizer.model").is_file()
    base = load_pretrained(tiny_checkpoint)
    assert not torch.equal(
        merged.model.layers[0].self_attn.q_proj.weight, base.model.layers[0].self_attn.q_proj.weight
    )
    # the merged model computes what base + adapter computes
    from peft import PeftModel

    with_adapter = PeftModel.from_pretrained(load_pretrained(tiny_checkpoint), str(out)).eval()
    scorer = CDScorer.from_pretrained(merged_dir, device="cpu")
    pixels = scorer.image_processor(
        [synth_set / "images" / "I0002_01_01.png", synth_set / "images" / "I0002_03_01.png"]
    )
    ids = torch.tensor([scorer._score_ids])
    with torch.no_grad():
        a = merged(input_ids=ids, pixel_values=pixels).logits
        b = with_adapter(input_ids=ids, pixel_values=pixels).logits
    assert (a - b).abs().max() < 1e-4


def test_resumed_run_matches_uninterrupted(tiny_checkpoint, synth_set, tmp_path):
    steps = ["--max_steps", "6", "--save_steps", "3", "--freeze_vision_model", "False"]
    straight = tmp_path / "straight"
    finetune(_common(tiny_checkpoint, synth_set, straight, *steps))
    resumed = tmp_path / "resumed"
    finetune(_common(tiny_checkpoint, synth_set, resumed, *steps))
    # simulate an interruption right after checkpoint-3: drop everything written later
    shutil.rmtree(resumed / "checkpoint-6")
    for name in ("model.safetensors", "trainer_state.json"):
        (resumed / name).unlink()
    assert _newest_checkpoint(resumed).endswith("checkpoint-3")
    finetune(_common(tiny_checkpoint, synth_set, resumed, *steps, "--resume_from_checkpoint", "auto"))
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    log = lambda d: [
        (e["step"], e["learning_rate"], e["loss"])
        for e in json.loads((d / "trainer_state.json").read_text())["log_history"]
        if "loss" in e
    ]
    tail_straight = [e for e in log(straight) if e[0] > 3]
    tail_resumed = [e for e in log(resumed) if e[0] > 3]
    assert [(s, lr) for s, lr, _ in tail_straight] == [(s, lr) for s, lr, _ in tail_resumed]
    assert all(abs(x[2] - y[2]) < 1e-5 for x, y in zip(tail_straight, tail_resumed))


def test_visual_abstractor_lr_sets_its_own_groups(tiny_checkpoint, synth_set, tmp_path):
    from transformers import HfArgumentParser

    from cdreasoning.train.arguments import TrainingArguments
    from cdreasoning.train.trainer import CDTrainer

    (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
        args=[
            "--output_dir",
            str(tmp_path),
            "--learning_rate",
            "1e-3",
            "--visual_abstractor_lr",
            "5e-5",
            "--weight_decay",
            "0.1",
            "--report_to",
            "none",
            "--use_cpu",
            "True",
        ]
    )
    model = load_pretrained(tiny_checkpoint).train()
    optimizer = CDTrainer(model=model, args=args).create_optimizer()
    by_id = {id(p): n for n, p in model.named_parameters()}
    seen = set()
    for group in optimizer.param_groups:
        names = [by_id[id(p)] for p in group["params"]]
        seen.update(names)
        abstractor = {"visual_abstractor" in n for n in names}
        assert len(abstractor) == 1  # groups never mix abstractor and other parameters
        assert group["lr"] == (5e-5 if abstractor.pop() else 1e-3)
    assert seen == {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(g["weight_decay"] == 0.1 for g in optimizer.param_groups)


def test_missing_arguments_and_help(capsys):
    with pytest.raises(SystemExit):
        finetune(["--output_dir", "/tmp/x"])
    assert finetune(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--lora_enable",
        "--visual_abstractor_lr",
        "--group_by_modality_length",
        "--deepspeed",
        "--tune_visual_abstractor",
        "--freeze_vision_model",
        "--image_aspect_ratio",
        "--lazy_preprocess",
    ):
        assert flag in out
