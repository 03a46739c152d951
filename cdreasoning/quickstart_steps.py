"""The quickstart's steps: each a real `cdreasoning` command, with the result that marks it done and the steps
whose results it reads (so a step that ran again makes its readers run again). `run_quickstart` runs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdreasoning.quickstart import QuickstartConfig

__all__ = ["Step", "build_steps"]


@dataclass(frozen=True)
class Step:
    """One `cdreasoning` command. It is skipped when `result` exists (unless a step it reads from ran)."""

    name: str
    title: str
    argv: tuple[str, ...]
    result: Path
    reads: tuple[str, ...] = ()
    # Folders the step owns: removed before it runs again because an upstream step changed.
    owns: tuple[Path, ...] = field(default_factory=tuple)

    def command_line(self) -> str:
        """The step as a shell line (`cdreasoning …`, arguments quoted where needed), as printed and reported."""
        return "cdreasoning " + " ".join(_quote(a) for a in self.argv)


def _logging_steps(steps: int) -> int:
    """Log the loss every 25 steps, or often enough that a short run still draws a curve."""
    return max(1, min(25, steps // 10))


def _cdflow_speed() -> tuple[str, ...]:
    """CD-Flow in bf16 with NHWC activations where the CPU multiplies bf16 in hardware (docs/cdflow.md, Speed)."""
    from cdreasoning.runtime import cpu_has_fast_bf16

    return ("--precision", "bf16", "--channels-last") if cpu_has_fast_bf16() else ()


def build_steps(config: QuickstartConfig) -> list[Step]:
    """The quickstart as a list of commands (also what the report lists under "what ran")."""
    out = config.out
    data, models, evals = out / "data", out / "models", out / "eval"
    images = str(data / "images")
    device = ("--device", config.device)
    # The full stage sees each score record `score_repeat` times per description record: on the 1:1 mix half of
    # its samples are descriptions and it ends up answering one level for most pairs; on score records alone it
    # never learns to describe, which LoRA cannot add later (docs/training.md, "The quickstart's recipe").
    # The LoRA stage trains on the 1:1 mix.
    train_data = {"full": data / "train_full.json", "lora": data / "train_mix.json"}
    train_common = (
        "--version",
        "v1",
        "--image-folder",
        images,
        "--image-aspect-ratio",
        "pad",
        "--batch-size",
        str(config.batch_size),
        "--lr-scheduler-type",
        "cosine",
        "--warmup-ratio",
        "0.05",
        "--weight-decay",
        "0",
        "--model-max-length",
        "512",
        "--save-strategy",
        "steps",
        "--save-total-limit",
        "1",
        "--dataloader-num-workers",
        str(config.workers),
        "--seed",
        str(config.seed),
        "--report-to",
        "tensorboard",
        "--resume-from-checkpoint",
        "auto",
        "--score-loss",
        config.score_loss,
        "--score-loss-weight",
        str(config.score_loss_weight),
        "--identical-pair-prob",
        str(config.identical_pair_prob),
        # Score records are ~4× shorter than descriptions: batches of similar length pad far less.
        "--group-by-modality-length",
        "True",
    )
    full_save = max(50, config.full_steps // 4)
    lora_save = max(50, config.lora_steps // 3)
    test_csv = str(data / "test.csv")
    steps = [
        Step(
            "data",
            "synthetic SPCD-like set",
            (
                "data",
                "synth",
                "--out",
                str(data),
                "--scenes",
                str(config.scenes),
                "--seed",
                str(config.seed),
                "--size",
                str(config.size),
                "--pairs-per-scene",
                str(config.pairs_per_scene),
            ),
            data / "synth_meta.json",
        ),
        Step(
            "train-data",
            f"the full stage's training file (score records ×{config.score_repeat} + descriptions)",
            (
                "data",
                "mix",
                "--inputs",
                str(data / "score_task" / "train_data.json"),
                str(data / "depict_task" / "depict_train.json"),
                "--repeat",
                str(config.score_repeat),
                "1",
                "--seed",
                str(config.seed),
                "--out",
                str(train_data["full"]),
            ),
            train_data["full"],
            reads=("data",),
        ),
        Step(
            "init",
            "tiny random model",
            (
                "init-model",
                "--preset",
                "tiny",
                "--out",
                str(models / "tiny-init"),
                "--seed",
                str(config.seed),
                "--overwrite",
            ),
            models / "tiny-init" / "model.safetensors",
            owns=(models / "tiny-init",),
        ),
        Step(
            "full",
            "full fine-tuning (the base model)",
            (
                "train",
                "--model-path",
                str(models / "tiny-init"),
                "--output-dir",
                str(models / "full"),
                "--data-path",
                str(train_data["full"]),
                *train_common,
                "--max-steps",
                str(config.full_steps),
                "--save-steps",
                str(full_save),
                "--logging-steps",
                str(_logging_steps(config.full_steps)),
                "--learning-rate",
                str(config.full_lr),
                "--tune-visual-abstractor",
                "True",
                "--freeze-vision-model",
                str(not config.train_vision),
            ),
            models / "full" / "model.safetensors",
            reads=("data", "train-data", "init"),
            owns=(models / "full",),
        ),
        Step(
            "lora",
            "LoRA fine-tuning on the base",
            (
                "train",
                "--model-path",
                str(models / "full"),
                "--output-dir",
                str(models / "lora"),
                "--data-path",
                str(train_data["lora"]),
                *train_common,
                "--max-steps",
                str(config.lora_steps),
                "--save-steps",
                str(lora_save),
                "--logging-steps",
                str(_logging_steps(config.lora_steps)),
                "--learning-rate",
                str(config.lora_lr),
                "--lora-enable",
                "True",
                "--lora-r",
                str(config.lora_r),
                "--lora-alpha",
                str(2 * config.lora_r),
                "--lora-dropout",
                "0.05",
                "--tune-visual-abstractor",
                "True",
                "--freeze-vision-model",
                "True",
            ),
            models / "lora" / "adapter_model.safetensors",
            reads=("data", "full"),
            owns=(models / "lora",),
        ),
        Step(
            "merge",
            "merge the LoRA adapter",
            ("export", "--merge-lora", str(models / "lora"), "--out", str(models / "lora-merged")),
            models / "lora-merged" / "model.safetensors",
            reads=("lora",),
            owns=(models / "lora-merged",),
        ),
    ]
    for model, label in (("full", "tiny-full"), ("lora-merged", "tiny-lora")):
        steps.append(
            Step(
                f"score-{model}",
                f"score the test pairs ({label})",
                (
                    "eval",
                    "score",
                    "--model-path",
                    str(models / model),
                    "--pairs",
                    test_csv,
                    "--image-folder",
                    images,
                    "--out",
                    str(evals / label),
                    "--name",
                    label,
                    "--consistency",
                    "--identical-pairs",
                    "30",
                    *device,
                    "--num-workers",
                    str(config.workers),
                ),
                evals / label / "metrics.json",
                reads=("data", "merge" if model == "lora-merged" else "full"),
                owns=(evals / label,),
            )
        )
    steps.append(
        Step(
            "describe",
            "describe the test pairs (tiny-lora)",
            (
                "eval",
                "describe",
                "--model-path",
                str(models / "lora-merged"),
                "--pairs",
                str(data / "depict_task" / "depict_test.json"),
                "--image-folder",
                images,
                "--out",
                str(evals / "tiny-lora-describe"),
                "--name",
                "tiny-lora",
                "--max-new-tokens",
                "96",
                "--scores",
                str(evals / "tiny-lora" / "scores.csv"),
                *device,
                "--num-workers",
                str(config.workers),
            ),
            evals / "tiny-lora-describe" / "metrics.json",
            reads=("data", "merge", "score-lora-merged"),
            owns=(evals / "tiny-lora-describe",),
        )
    )
    for method in ("ciede2000", "scielab"):
        steps.append(
            Step(
                method,
                f"{method} baseline",
                (
                    "eval",
                    "baseline",
                    "--method",
                    method,
                    "--pairs",
                    test_csv,
                    "--image-folder",
                    images,
                    "--out",
                    str(evals / method),
                    "--workers",
                    "1",
                    "--overwrite",
                ),
                evals / method / "metrics.json",
                reads=("data",),
                owns=(evals / method,),
            )
        )
    from cdreasoning.quickstart_backbones import backbone_steps

    extra_labels, extra_reads = [], []
    for backbone in config.backbones:
        steps += [
            Step(**kw)
            for kw in backbone_steps(config, backbone, train_data, train_common, device, _logging_steps)
        ]
        extra_labels += [f"tiny-{backbone}-full", f"tiny-{backbone}-lora"]
        extra_reads += [f"score-full-{backbone}", f"score-lora-merged-{backbone}"]
    steps += [
        Step(
            "cdflow-train",
            "train a small CD-Flow",
            (
                "cdflow",
                "train",
                "--image-folder",
                images,
                "--datapath",
                str(data),
                "--work-path",
                str(out / "cdflow"),
                "--preset",
                "small",
                "--image-size",
                str(config.cdflow_size),
                "--epochs",
                str(config.cdflow_epochs),
                "--batch-size",
                "8",
                "--lr",
                "2e-3",
                "--seed",
                str(config.seed),
                "--no-test",
                *device,
                *_cdflow_speed(),
            ),
            out / "cdflow" / "best.pt",
            reads=("data",),
            owns=(out / "cdflow",),
        ),
        Step(
            "cdflow-test",
            "CD-Flow on the test pairs",
            (
                "cdflow",
                "test",
                "--image-folder",
                images,
                "--datapath",
                str(data),
                "--work-path",
                str(out / "cdflow"),
                "--out",
                str(evals / "cdflow"),
                *device,
            ),
            evals / "cdflow" / "metrics.json",
            reads=("data", "cdflow-train"),
            owns=(evals / "cdflow",),
        ),
        Step(
            "compare",
            "leaderboard",
            (
                "eval",
                "compare",
                *(
                    str(evals / name)
                    for name in ("tiny-full", "tiny-lora", *extra_labels, "ciede2000", "scielab", "cdflow")
                ),
                "--out",
                str(out / "leaderboard"),
            ),
            out / "leaderboard" / "leaderboard.md",
            reads=("score-full", "score-lora-merged", *extra_reads, "ciede2000", "scielab", "cdflow-test"),
            owns=(out / "leaderboard",),
        ),
    ]
    return steps


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:," for c in arg) else json.dumps(arg)
