"""The settings of a `cdflow train` run: one typed dataclass, validated in one place, and its command line.

    from cdreasoning.cdflow.train_settings import TrainSettings, build_parser, settings_from_argv
    settings = settings_from_argv(["--image-folder", "runs/synth/images", "--datapath", "runs/synth",
                                   "--preset", "small", "--image-size", "64"])
    settings = TrainSettings(training_datadir=Path("images"), preset="tiny", image_size=16)   # the same, in code

Every field carries its help text in `metadata["help"]`; the train-only flags take it from there, so flag and
field cannot drift apart (the data, device and runtime flags are shared with `cdflow test`: `options.py`). Flags are dashed (`--image-size`, `--batch-size`); the original scripts' spellings
(`--image_size`, `--batch_size_train`, `--n_epochs`, `--learning_rate`, …) stay as tested aliases.

Validation happens in `TrainSettings.__post_init__` (what the settings alone decide: positive sizes and
counts, a positive learning rate, an EMA decay in [0, 1), a known preset and precision) and in `TrainSettings.resolved(config)` (what needs the
architecture: image and evaluation sizes must be multiples of 2**scales). A resumed run must keep the
`RESUME_IDENTITY` part of its settings; `identity()` is what last.pt stores and compares.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdreasoning.cdflow.config import PRESETS, CDFlowConfig, preset_config
from cdreasoning.cdflow.data import default_eval_size
from cdreasoning.cdflow.options import add_data_arguments

__all__ = [
    "PROG",
    "RESUME_IDENTITY",
    "TrainSettings",
    "build_parser",
    "settings_from_args",
    "settings_from_argv",
]

PROG = "cdreasoning cdflow train"

# Settings a resumed run must share with the run it continues (anything else may change on resume). The
# names are the keys of the "settings" dict in last.pt (kept from the first release, so old runs resume).
RESUME_IDENTITY = (
    "config",
    "image_size",
    "eval_size",
    "batch_size_train",
    "seed",
    "lr",
    "lr_decay_epochs",
    "lr_decay",
    "adam_eps",
    "ema",
    "ema_warmup",
    "dequantize",
    "max_grad_norm",
)


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training run is told: data, schedule, architecture, runtime. Immutable once validated."""

    # --- data ---
    training_datadir: Path = field(metadata=_help("folder holding the images named in the CSV files"))
    datapath: Path = field(default=Path("data"), metadata=_help("folder with train.csv, val.csv, test.csv"))
    work_path: Path = field(
        default=Path("work_dir"), metadata=_help("run folder: last.pt, best.pt, log.jsonl")
    )
    trainset: str = field(default="train.csv", metadata=_help("training pair list inside --datapath"))
    valset: str = field(default="val.csv", metadata=_help("validation pair list inside --datapath"))
    testset: str = field(default="test.csv", metadata=_help("test pair list inside --datapath"))
    # --- optimisation ---
    batch_size_train: int = field(default=4, metadata=_help("pairs per training step (paper: 4; default 4)"))
    batch_size_test: int = field(default=4, metadata=_help("pairs per evaluation batch"))
    epochs: int = field(default=50, metadata=_help("training epochs (default 50)"))
    lr: float = field(default=1e-5, metadata=_help("Adam learning rate (default 1e-5)"))
    lr_decay_epochs: int = field(
        default=5,
        metadata=_help("multiply the learning rate by --lr-decay every this many epochs (default 5)"),
    )
    lr_decay: float = field(default=0.5, metadata=_help("step decay factor (default 0.5)"))
    adam_eps: float = field(default=1e-7, metadata=_help("Adam epsilon (default 1e-7, as the original)"))
    ema: float = field(default=0.999, metadata=_help("EMA decay of the validated weights (default 0.999)"))
    ema_warmup: bool = field(
        default=True,
        metadata=_help(
            "off: plain EMA decay from the first step (the original); by default the decay is "
            "min(ema, (1+n)/(10+n)) after n steps, which matters only for short runs"
        ),
    )
    dequantize: bool = field(
        default=True,
        metadata=_help("off: feed v/255 in training instead of the dequantised (v + U[0,1))/256"),
    )
    max_grad_norm: float = field(default=0.0, metadata=_help("clip the gradient norm (default 0: off)"))
    image_size: int = field(
        default=768,
        metadata=_help(
            "training crop side S (default 768, the paper); images are resized to S·1024/768, rotated ±3°, "
            "cropped to S·1000/768 and resized to S. Must be a multiple of 2**scales"
        ),
    )
    eval_size: int | None = field(
        default=None,
        metadata=_help(
            "shorter side of validation/test images (default: S·1024/768 to the nearest multiple of "
            "2**scales, i.e. 1024 for S = 768, as the paper); stored in the checkpoint"
        ),
    )
    # --- architecture (None: the preset's, or the resumed checkpoint's) ---
    preset: str | None = field(
        default=None,
        metadata=_help(
            "architecture: paper (6 scales × 8 steps, width 512, 60.49 M parameters; default), small, tiny"
        ),
    )
    scales: int | None = field(default=None, metadata=_help("override the preset's number of scales"))
    steps: int | None = field(default=None, metadata=_help("override the preset's flow steps per scale"))
    width: int | None = field(default=None, metadata=_help("override the preset's coupling width"))
    seed: int = field(default=100, metadata=_help("seed of weights, data order, augmentation (default 100)"))
    # --- run control ---
    max_steps: int | None = field(
        default=None,
        metadata=_help(
            "stop after this many optimizer steps in total (smoke runs); validates and saves there"
        ),
    )
    save_every: int = field(default=1000, metadata=_help("also save last.pt every this many steps"))
    log_every: int = field(default=10, metadata=_help("TensorBoard scalars every this many steps"))
    resume: str = field(
        default="auto",
        metadata=_help(
            "auto: continue from WORK_PATH/last.pt if present (default); none: start over (refuses to "
            "overwrite an existing last.pt); or the path of a last.pt to continue from"
        ),
    )
    tensorboard: bool = field(default=True, metadata=_help("off: do not write TensorBoard logs"))
    test: bool = field(default=True, metadata=_help("off: skip the test-set evaluation at the end"))
    # --- runtime (free to change on resume) ---
    device: str = field(
        default="auto", metadata=_help("auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    )
    precision: str = field(default="auto", metadata=_help("auto, fp32, bf16, fp16 (autocast dtype)"))
    num_workers: int | None = field(default=None, metadata=_help("image-loading processes (default: auto)"))
    threads: int | None = field(
        default=None, metadata=_help("torch CPU threads (default: runtime.choose_threads)")
    )
    progress: bool = field(default=True, metadata=_help("off: no progress bars"))
    gradient_checkpointing: bool = field(
        default=False,
        metadata=_help(
            "recompute each flow step's activations in backward: far less memory (768 px batches on one GPU) "
            "for ~25%% more compute per step; the results do not change"
        ),
    )
    channels_last: bool = field(
        default=False,
        metadata=_help(
            "store activations channels-last (NHWC): faster convolutions on GPUs with tensor cores and on "
            "some CPUs; the maths is unchanged (results agree to float rounding)"
        ),
    )
    compile: bool = field(
        default=False,
        metadata=_help(
            "torch.compile the coupling networks (slow first steps, faster later ones; needs a compiler)"
        ),
    )

    def __post_init__(self) -> None:
        positive = (
            "batch_size_train",
            "batch_size_test",
            "epochs",
            "lr_decay_epochs",
            "save_every",
            "log_every",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{_flag(name)} must be ≥ 1, got {getattr(self, name)}")
        for name in ("max_steps", "num_workers"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{_flag(name)} must be ≥ 0, got {value}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be ≥ 1, got {self.threads}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"--ema must be in [0, 1), got {self.ema}")
        if self.max_grad_norm < 0:
            raise ValueError(f"--max-grad-norm must be ≥ 0, got {self.max_grad_norm}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown --preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"--precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        object.__setattr__(self, "training_datadir", Path(self.training_datadir))
        object.__setattr__(self, "datapath", Path(self.datapath))
        object.__setattr__(self, "work_path", Path(self.work_path))

    # --- derived ------------------------------------------------------------------------------------------

    def asked_config(self) -> CDFlowConfig | None:
        """The architecture asked for (None: nothing asked, i.e. the paper's unless resuming)."""
        if self.preset is None and self.scales is None and self.steps is None and self.width is None:
            return None
        return preset_config(self.preset or "paper", scales=self.scales, steps=self.steps, width=self.width)

    def resolved(self, config: CDFlowConfig) -> TrainSettings:
        """These settings with eval_size filled in, checked against the architecture's 2**scales rule."""
        multiple = config.multiple
        if self.image_size % multiple or self.image_size < 1:
            suggestion = max(multiple, self.image_size // multiple * multiple)
            raise ValueError(
                f"--image-size {self.image_size} is not a multiple of 2**scales = {multiple} "
                f"(scales={config.scales}); use e.g. {suggestion}"
            )
        eval_size = self.eval_size or default_eval_size(self.image_size, multiple)
        if eval_size % multiple:
            raise ValueError(f"--eval-size {eval_size} is not a multiple of 2**scales = {multiple}")
        return dataclasses.replace(self, eval_size=eval_size)

    def identity(self, config: CDFlowConfig) -> dict[str, Any]:
        """What last.pt stores as "settings" and a resumed run must repeat (keys: RESUME_IDENTITY)."""
        values = {name: getattr(self, name) for name in RESUME_IDENTITY if name != "config"}
        return {"config": config.to_dict(), **values}


def _flag(name: str) -> str:
    """The canonical (dashed) flag of a field, as errors name it."""
    return "--batch-size" if name == "batch_size_train" else "--" + name.replace("_", "-")


def _field_help(name: str) -> str:
    return TrainSettings.__dataclass_fields__[name].metadata["help"]


# Train-only options: (field, extra aliases beyond the underscore spelling, argparse keywords). Negated
# booleans (`--no-ema-warmup`) store False into the field.
_OPTIONS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("trainset", (), {}),
    ("valset", (), {}),
    ("batch_size_train", ("--batch-size", "--batch_size"), {"type": int}),  # --batch-size is canonical
    ("epochs", ("--n_epochs",), {"type": int}),
    ("lr", ("--learning_rate", "--learning-rate"), {"type": float}),
    ("lr_decay_epochs", ("--scheduler_step",), {"type": int}),
    ("lr_decay", ("--scheduler_gamma",), {"type": float}),
    ("adam_eps", (), {"type": float}),
    ("ema", (), {"type": float}),
    ("max_grad_norm", (), {"type": float}),
    ("image_size", (), {"type": int}),
    ("eval_size", (), {"type": int}),
    ("preset", (), {"choices": tuple(PRESETS)}),
    ("scales", (), {"type": int}),
    ("steps", (), {"type": int}),
    ("width", (), {"type": int}),
    ("seed", (), {"type": int}),
    ("max_steps", (), {"type": int}),
    ("save_every", (), {"type": int}),
    ("log_every", (), {"type": int}),
    ("resume", ("--resume_path",), {}),
    ("gradient_checkpointing", (), {"action": "store_true"}),
    ("compile", (), {"action": "store_true"}),
)
_NEGATED = ("ema_warmup", "dequantize", "tensorboard", "test")  # --no-X flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train CD-Flow (Wang et al., CVPR 2023), the normalizing-flow colour-difference metric, on "
        "SPCD-format pair lists. Loss: 10·(10·MSE(ΔE_1, ΔV) + Σ_k MSE(ΔE_k, ΔV)) + NLL(x) + NLL(y); "
        "Adam with step decay; EMA weights validated every epoch; the best by validation SRCC is kept.",
        epilog="Resume: rerun the same command; --resume auto continues from WORK_PATH/last.pt. Ctrl-C "
        "finishes the current step, saves last.pt and exits with status 130. See docs/cdflow.md.",
    )
    add_data_arguments(parser)  # shared with `cdflow test`: data folders, device, precision, threads, …
    for name, aliases, kwargs in _OPTIONS:
        default = TrainSettings.__dataclass_fields__[name].default
        # canonical first (--batch-size: one spelling per concept, as the other commands), then the
        # dashed and underscore spellings of the field and the original aliases; a one-word name has one
        names = list(dict.fromkeys([_flag(name), "--" + name.replace("_", "-"), f"--{name}", *aliases]))
        parser.add_argument(*names, dest=name, default=default, help=_field_help(name), **kwargs)
    for name in _NEGATED:
        names = list(dict.fromkeys([_flag(f"no_{name}"), f"--no_{name}"]))
        help_text = _field_help(name).removeprefix("off: ")
        parser.add_argument(*names, dest=f"no_{name}", action="store_true", help=help_text)
    return parser


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    """The parsed command line as validated settings (raises ValueError with the flag's name)."""
    values = {name: getattr(args, name) for name in TrainSettings.__dataclass_fields__ if hasattr(args, name)}
    for name in _NEGATED:
        values[name] = not getattr(args, f"no_{name}")
    values["progress"] = not args.no_progress
    return TrainSettings(**values)


def settings_from_argv(argv: list[str] | None) -> TrainSettings:
    return settings_from_args(build_parser().parse_args(argv))
