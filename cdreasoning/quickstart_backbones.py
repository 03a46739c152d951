"""The quickstart's steps for a transformers-native backbone (`cdreasoning quickstart --backbone qwen2_5_vl`).

Steps 2–5 of the main job (init → full → LoRA → merge → score / describe) on the family's tiny random preset
(`cdreasoning init-model --preset tiny-<family>`), under OUT/models/<family>/, with the default model's settings;
the data, the baselines and CD-Flow are shared, and its two score results join the leaderboard.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _step(name: str, title: str, argv: tuple, result: Path, reads: tuple = (), owns: tuple = ()) -> dict:
    return {"name": name, "title": title, "argv": argv, "result": result, "reads": reads, "owns": owns}


def backbone_steps(
    config, backbone: str, train_data: dict, train_common: tuple, device: tuple, logging_steps: Callable
) -> list[dict]:
    """Steps 2–5 for a transformers-native backbone's tiny preset, with the default model's settings: the
    keyword arguments of each `cdreasoning.quickstart.Step` (this module sits below the quickstart, which
    imports it). `config` is the QuickstartConfig; `train_data` the training file of each stage ("full",
    "lora"); `logging_steps(n)` the quickstart's logging interval."""
    out = config.out
    data, models, evals = out / "data", out / "models" / backbone, out / "eval"
    images = str(data / "images")
    label = f"tiny-{backbone}"
    stages = {
        "full": ("--tune_visual_abstractor", "True", "--freeze_vision_model", "False"),
        "lora": (
            "--lora_enable",
            "True",
            "--lora_r",
            str(config.lora_r),
            "--lora_alpha",
            str(2 * config.lora_r),
        ),
    }
    lr = {"full": config.full_lr, "lora": config.lora_lr}
    n_steps = {"full": config.full_steps, "lora": config.lora_steps}
    init_args = ("init-model", "--preset", label, "--out", str(models / "init"), "--seed", str(config.seed))
    steps = [
        _step(
            f"init-{backbone}",
            f"tiny random {backbone}",
            (*init_args, "--overwrite"),
            models / "init" / "model.safetensors",
            owns=(models / "init",),
        )
    ]
    for stage, base, read in (("full", "init", f"init-{backbone}"), ("lora", "full", f"full-{backbone}")):
        result = models / stage / ("model.safetensors" if stage == "full" else "adapter_model.safetensors")
        argv = ("train", "--model_name_or_path", str(models / base), "--output_dir", str(models / stage))
        # The soft-label loss is mPLUG-Owl2's only (`cdreasoning train` refuses it for other backbones): the
        # last --score-loss on the line wins.
        argv += ("--data_path", str(train_data[stage]), *train_common, "--score-loss", "ce")
        argv += ("--max_steps", str(n_steps[stage]), "--learning_rate", str(lr[stage]))
        argv += (
            "--save_steps",
            str(max(50, n_steps[stage] // 3)),
            "--logging_steps",
            str(logging_steps(n_steps[stage])),
        )
        title = f"{backbone}: {'full fine-tuning' if stage == 'full' else 'LoRA on the base'}"
        steps.append(
            _step(
                f"{stage}-{backbone}",
                title,
                (*argv, *stages[stage]),
                result,
                ("data", "train-data", read) if stage == "full" else ("data", read),
                (models / stage,),
            )
        )
    merged = models / "lora-merged"
    steps.append(
        _step(
            f"merge-{backbone}",
            f"{backbone}: merge the LoRA adapter",
            ("export", "--merge-lora", str(models / "lora"), "--out", str(merged)),
            merged / "model.safetensors",
            reads=(f"lora-{backbone}",),
            owns=(merged,),
        )
    )
    for model, name, read in (
        ("full", f"{label}-full", f"full-{backbone}"),
        ("lora-merged", f"{label}-lora", f"merge-{backbone}"),
    ):
        argv = ("eval", "score", "--model-path", str(models / model), "--data", str(data / "test.csv"))
        argv += ("--image-folder", images, "--out", str(evals / name), "--name", name, *device)
        steps.append(
            _step(
                f"score-{model}-{backbone}",
                f"score the test pairs ({name})",
                (*argv, "--num-workers", str(config.workers)),
                evals / name / "metrics.json",
                reads=("data", read),
                owns=(evals / name,),
            )
        )
    describe = evals / f"{label}-lora-describe"
    argv = (
        "eval",
        "describe",
        "--model-path",
        str(merged),
        "--data",
        str(data / "depict_task" / "depict_test.json"),
    )
    argv += (
        "--image-folder",
        images,
        "--out",
        str(describe),
        "--name",
        f"{label}-lora",
        "--max-new-tokens",
        "96",
    )
    steps.append(
        _step(
            f"describe-{backbone}",
            f"describe the test pairs ({label}-lora)",
            (*argv, *device, "--num-workers", str(config.workers)),
            describe / "metrics.json",
            reads=("data", f"merge-{backbone}"),
            owns=(describe,),
        )
    )
    return steps
