"""The main job in one command: data → fine-tuning → scoring and describing → evaluation next to the baselines.

    bash scripts/quickstart.sh                 # sets up .venv, then runs this (= `cdreasoning quickstart`)
    cdreasoning quickstart --out runs/quickstart --device auto

On the embedded default it needs no download and no GPU (and uses one when there is one):

 1. `cdreasoning data synth`: an SPCD-like set cut from photographs bundled with installed packages (proxy ΔV and
    per-attribute severities as ground truth; train / val / test split by scene).
 2. `cdreasoning init-model --preset tiny`: a randomly initialised model with the full mPLUG-Owl2 architecture.
 3. `cdreasoning train` (full): a short full fine-tune on the score records (×3) and the description records
    (`cdreasoning data mix --repeat 3 1`; soft labels, vision tower frozen). A random model has no language yet,
    so this plays the part that the released OneAlign checkpoint plays for CD-Reasoning: the base.
 4. `cdreasoning train --lora-enable True` on that base with the score + depict training mix (the CD-Reasoning
    recipe's tuning mode, smaller rank), then `cdreasoning export --merge-lora` to a standalone checkpoint.
 5. `cdreasoning eval score` (both models) and `cdreasoning eval describe` (LoRA model) on the held-out pairs.
 6. `cdreasoning eval baseline` with CIEDE2000 and S-CIELAB, and a small CD-Flow (`cdreasoning cdflow train`,
    `cdreasoning cdflow test`) trained on the same training pairs.
 7. `cdreasoning eval compare` → one leaderboard, then OUT/report.md: the metrics (all / aligned / not aligned),
    the plots and a few example descriptions next to their ground truth.

`--backbone qwen2_5_vl` (or qwen3_vl, qwen3_5, idefics3; repeatable) also runs steps 2–5 on that family's tiny random
transformers-native model (`cdreasoning init-model --preset tiny-qwen2_5_vl`, under OUT/models/<family>/) with the
same commands and settings, and puts it on the same leaderboard (`tiny-<family>-full`, `tiny-<family>-lora`);
everything else is shared, so adding a backbone to a finished run only trains and scores the new model.

Every step is a real `cdreasoning` command run in a subprocess and printed before it runs, so the report can be
reproduced (or a step redone with other settings) by hand. Rerunning reuses what exists: a step whose result is
there is skipped, an interrupted training run resumes from its last checkpoint (`--resume_from_checkpoint auto`),
an interrupted evaluation continues where it stopped; a step that had to run again makes the steps that read
its result run again too. `--fresh` starts over.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

from cdreasoning.errors import report_errors
from cdreasoning.quickstart_steps import Step, build_steps

__all__ = ["QuickstartConfig", "Step", "build_steps", "main", "run_quickstart"]

# Backbones the quickstart can add next to the default mPLUG-Owl2 model (tiny presets `tiny-<name>`).
EXTRA_BACKBONES = ("qwen2_5_vl", "qwen3_vl", "qwen3_5", "idefics3")


@dataclass(frozen=True)
class QuickstartConfig:
    """What the quickstart builds; the defaults took 10.2 minutes on 2 CPU cores (README, Benchmarks).

    out: folder for everything (data/, models/, cdflow/, eval/, leaderboard/, report.md).
    scenes / size / seed / pairs_per_scene: the synthetic set (`cdreasoning data synth`): scenes split 70/10/20,
        image side in px, rated pairs per scene.
    device: auto | cpu | cuda | mps, for every step that runs a model.
    full_steps / lora_steps: optimizer steps of the two fine-tuning stages (batch `batch_size`).
    score_repeat: the full stage trains on the score records repeated this many times plus the description
        records once (`cdreasoning data mix --repeat`); the LoRA stage on the 1:1 mix.
    full_lr / lora_lr: their peak learning rates (cosine schedule, 5 % warm-up).
    train_vision: also train the vision tower in the full stage (default: frozen at its random initialisation,
        which learns the task better on this small set; docs/training.md has the benchmark).
    lora_r: LoRA rank (alpha = 2·r, as in the CD-Reasoning recipe's r=128 / alpha=256).
    score_loss / score_loss_weight: how score records are supervised in both stages (`cdreasoning train
        --score-loss ce|soft --score-loss-weight W`; docs/training.md). Score records are also shown with their
        two images swapped half of the time (`--swap-pair-prob 0.5`, the training default).
    identical_pair_prob: share of score records shown as an image against itself, answered "negligible"
        (`cdreasoning train --identical-pair-prob`), in both stages.
    cdflow_epochs / cdflow_size: CD-Flow training epochs and training image side (the `small` preset).
    examples: example descriptions shown in the report.
    workers: data-loading worker processes per step.
    threads: torch CPU threads of every step (None: chosen once, before the first step, from the free cores).
    """

    out: Path = Path("runs/quickstart")
    scenes: int = 60
    size: int = 64
    seed: int = 0
    pairs_per_scene: int = 90
    device: str = "auto"
    full_steps: int = 1800
    lora_steps: int = 150
    batch_size: int = 32
    score_repeat: int = 3
    full_lr: float = 1e-3
    lora_lr: float = 1e-3
    train_vision: bool = False
    lora_r: int = 16
    score_loss: str = "soft"
    score_loss_weight: float = 1.0
    identical_pair_prob: float = 0.05
    cdflow_epochs: int = 2
    cdflow_size: int = 64
    examples: int = 3
    workers: int = 1
    threads: int | None = None
    backbones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        positive = (
            "scenes",
            "size",
            "pairs_per_scene",
            "full_steps",
            "lora_steps",
            "batch_size",
            "score_repeat",
            "lora_r",
            "cdflow_epochs",
            "cdflow_size",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.scenes < 5:
            raise ValueError(f"scenes must be ≥ 5 so that every split has a scene, got {self.scenes}")
        if self.full_lr <= 0 or self.lora_lr <= 0:
            raise ValueError("learning rates must be positive")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be ≥ 1, got {self.threads}")
        if self.score_loss not in ("ce", "soft") or self.score_loss_weight < 0:
            raise ValueError(
                f"score_loss must be ce or soft and its weight ≥ 0, got {self.score_loss} / {self.score_loss_weight}"
            )
        if not 0.0 <= self.identical_pair_prob <= 1.0:
            raise ValueError(f"identical_pair_prob must be in [0, 1], got {self.identical_pair_prob}")
        if self.examples < 0 or self.workers < 0:
            raise ValueError("examples and workers must be ≥ 0")
        unknown = [b for b in self.backbones if b not in EXTRA_BACKBONES]
        if unknown:
            raise ValueError(f"unknown backbone(s) {unknown}; choose from owl2, {', '.join(EXTRA_BACKBONES)}")


def _trained_model(config: QuickstartConfig) -> Path:
    """The checkpoint the report's "try it" commands use: the merged LoRA model."""
    return config.out / "models" / "lora-merged"


def run_quickstart(config: QuickstartConfig, *, fresh: bool = False, echo=print) -> Path:
    """Run (or reuse) every step, write OUT/report.md and return its path. A failing step raises
    `subprocess.CalledProcessError` after its output was shown (the log names the command)."""
    from cdreasoning.quickstart_eta import QuickstartEta
    from cdreasoning.quickstart_report import write_report
    from cdreasoning.runtime import THREADS_ENV, choose_threads, warn_if_busy

    out = config.out
    if fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = build_steps(config)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    # Chosen once, before the first step: a step choosing for itself would count the step before it, still
    # in the 1-minute load average, as another process, and run on one core of two (measured: LoRA 187 s
    # instead of 97 s right after the full stage).
    threads = choose_threads(config.threads)
    env[THREADS_ENV] = str(threads)
    if config.threads is None:
        warn_if_busy("[quickstart]", threads)
    echo(f"[quickstart] every step uses {threads} torch CPU thread(s) (--threads N sets them)")
    ran: set[str] = set()
    timings: dict[str, float] = {}
    eta = QuickstartEta(config, steps)
    started = time.perf_counter()
    for number, step in enumerate(steps, start=1):
        stale = [name for name in step.reads if name in ran]
        header = f"[quickstart] ({number}/{len(steps)}) {step.title}"
        if step.result.exists() and not stale:
            echo(f"{header}: reusing {step.result}")
            eta.skipped(step)
            continue
        if stale:
            for folder in step.owns:  # its inputs changed: its old result (and any resume state) is void
                shutil.rmtree(folder, ignore_errors=True)
        echo(f"{header} ({eta.before(step)})\n  $ {step.command_line()}")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cdreasoning", *step.argv], check=True, env=env)
        timings[step.name] = time.perf_counter() - t0
        eta.after(step, timings[step.name])
        if not step.result.exists():
            raise RuntimeError(f"step {step.name!r} finished but did not write {step.result}")
        ran.add(step.name)
    report = write_report(config, steps, timings, total_seconds=time.perf_counter() - started)
    echo(f"[quickstart] done in {time.perf_counter() - started:.0f} s; report: {report}")
    echo(
        f"[quickstart] try it on your own pair in the browser: cdreasoning demo --model-path {_trained_model(config)}"
    )
    return report


def build_parser() -> argparse.ArgumentParser:
    defaults = QuickstartConfig()
    parser = argparse.ArgumentParser(
        prog="cdreasoning quickstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=defaults.out, help=f"output folder (default {defaults.out})"
    )
    parser.add_argument("--device", default=defaults.device, help="auto (default) | cpu | cuda | mps")
    parser.add_argument(
        "--scenes",
        type=int,
        default=defaults.scenes,
        help=f"synthetic scenes, split 70/10/20 (default {defaults.scenes})",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=defaults.size,
        help=f"synthetic image side in pixels (default {defaults.size})",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of data, models and training")
    parser.add_argument(
        "--pairs-per-scene",
        type=int,
        default=defaults.pairs_per_scene,
        help=f"rated pairs per synthetic scene (default {defaults.pairs_per_scene})",
    )
    parser.add_argument(
        "--full-steps",
        type=int,
        default=defaults.full_steps,
        help=f"full fine-tuning steps (default {defaults.full_steps})",
    )
    parser.add_argument(
        "--lora-steps",
        type=int,
        default=defaults.lora_steps,
        help=f"LoRA fine-tuning steps (default {defaults.lora_steps})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help=f"training batch size (default {defaults.batch_size})",
    )
    parser.add_argument(
        "--score-repeat",
        type=int,
        default=defaults.score_repeat,
        help=f"the full stage sees each score record this many times per description record "
        f"(default {defaults.score_repeat})",
    )
    parser.add_argument(
        "--full-lr",
        type=float,
        default=defaults.full_lr,
        help=f"full fine-tuning peak LR (default {defaults.full_lr})",
    )
    parser.add_argument(
        "--lora-lr", type=float, default=defaults.lora_lr, help=f"LoRA peak LR (default {defaults.lora_lr})"
    )
    parser.add_argument(
        "--train-vision",
        action="store_true",
        help="also train the vision tower in the full stage (default: kept at its random initialisation)",
    )
    parser.add_argument(
        "--score-loss",
        choices=("ce", "soft"),
        default=defaults.score_loss,
        help=f"score supervision: ce (hard level word) or soft (distribution; docs/training.md) "
        f"(default {defaults.score_loss})",
    )
    parser.add_argument(
        "--score-loss-weight",
        type=float,
        default=defaults.score_loss_weight,
        help=f"weight of the soft-label term (default {defaults.score_loss_weight})",
    )
    parser.add_argument(
        "--identical-pair-prob",
        type=float,
        default=defaults.identical_pair_prob,
        help=f"share of score records shown as an image against itself, answered 'negligible' "
        f"(default {defaults.identical_pair_prob})",
    )
    parser.add_argument(
        "--cdflow-epochs",
        type=int,
        default=defaults.cdflow_epochs,
        help=f"CD-Flow training epochs (default {defaults.cdflow_epochs})",
    )
    parser.add_argument(
        "--cdflow-size",
        type=int,
        default=defaults.cdflow_size,
        help=f"CD-Flow training image side (default {defaults.cdflow_size})",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=defaults.examples,
        help=f"example descriptions in the report (default {defaults.examples})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help=f"data-loading worker processes (default {defaults.workers})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads of every step (default: the cores other processes leave free when the "
        "quickstart starts)",
    )
    parser.add_argument(
        "--backbone",
        action="append",
        default=[],
        choices=["owl2", *EXTRA_BACKBONES],
        help="also train and score this family's tiny transformers-native model and put it on the leaderboard "
        "(repeatable; owl2, the default model, always runs)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete --out first and redo every step")
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # every setting the parser has is a QuickstartConfig field of the same name (dashes → underscores)
        config = QuickstartConfig(
            **{f.name: getattr(args, f.name) for f in fields(QuickstartConfig) if f.name in vars(args)},
            backbones=tuple(dict.fromkeys(b for b in args.backbone if b != "owl2")),
        )
    except ValueError as err:
        print(f"cdreasoning quickstart: error: {err}", file=sys.stderr)
        return 2
    try:
        run_quickstart(config, fresh=args.fresh)
    except subprocess.CalledProcessError as err:
        print(
            f"cdreasoning quickstart: a step failed (exit {err.returncode}): "
            f"{' '.join(str(a) for a in err.cmd)}\nfix the cause and rerun: finished steps are reused",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
