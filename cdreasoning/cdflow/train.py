"""Train CD-Flow on SPCD-format pair lists; resumable, validated every epoch, tested at the end.

    python -m cdreasoning.cdflow.train --training_datadir SPCD/images --work_path work_dir --datapath data \\
        --batch_size_train 8                                   # the seed's command: paper model, 768 px
    cdreasoning cdflow train --training_datadir runs/synth/images --datapath runs/synth \\
        --work_path runs/cdflow --preset small --image_size 64 --epochs 8 --batch_size_train 8 --lr 2e-3

`--datapath` holds train.csv, val.csv and test.csv (rows `image_a,image_b,ΔV`, no header); the images named
there are in `--training_datadir`. Outputs in `--work_path`:

    last.pt            everything needed to resume (written atomically at every epoch end, every --save_every
                       steps, at --max_steps and on Ctrl-C)
    best.pt            the EMA weights with the best validation SRCC (what `cdflow test` / CDFlowMetric load)
    log.jsonl          one JSON line per validation (epoch, step, train loss terms, val STRESS/PLCC/SRCC)
    tensorboard/       loss terms, learning rate, validation metrics (if tensorboard is installed)
    test/              the score report of best.pt on test.csv (metrics.json, predictions.csv, scatter.png)

Order of a run: setup (device, data, model; a fresh run initialises ActNorm from its first batch and only then
takes the EMA copy) → train (per step: the loss of `loss.py` on both images of each pair, Adam, EMA update;
per epoch: step decay of the learning rate, validation with the EMA weights, best.pt when the SRCC improves) →
save → test. `--resume auto` (default) continues from work_path/last.pt when it exists; the data order,
augmentation and dequantisation noise are functions of (seed, epoch, pair), so a resumed run reproduces the
uninterrupted one exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cdreasoning.cdflow.checkpoint import CheckpointError, load_checkpoint, new_fingerprint, save_checkpoint
from cdreasoning.cdflow.config import PRESETS, CDFlowConfig, preset_config
from cdreasoning.cdflow.data import (
    EvalPairs,
    TrainPairs,
    batches_per_epoch,
    check_pair_images,
    default_eval_size,
    epoch_batches,
)
from cdreasoning.cdflow.ema import EMA
from cdreasoning.cdflow.flow import CDFlow, count_parameters
from cdreasoning.cdflow.loss import cdflow_loss
from cdreasoning.cdflow.options import (
    add_data_arguments,
    add_option,
    apply_threads,
    default_workers,
    error_text,
    resolve_amp_dtype,
)
from cdreasoning.cdflow.predict import predict_pairs
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.errors import DataError, report_errors
from cdreasoning.runtime import resolve_device

__all__ = ["build_parser", "main", "train"]

PROG = "cdreasoning cdflow train"
# Settings a resumed run must share with the run it continues (anything else may change on resume).
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


# --- command line -------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train CD-Flow (Wang et al., CVPR 2023), the normalizing-flow colour-difference metric, on "
        "SPCD-format pair lists. Loss: 10·(10·MSE(ΔE_1, ΔV) + Σ_k MSE(ΔE_k, ΔV)) + NLL(x) + NLL(y); "
        "Adam with step decay; EMA weights validated every epoch; the best by validation SRCC is kept.",
        epilog="Resume: rerun the same command; --resume auto continues from WORK_PATH/last.pt. Ctrl-C "
        "finishes the current step, saves last.pt and exits with status 130. See docs/cdflow.md.",
    )
    add_data_arguments(parser)
    add_option(parser, "--trainset", default="train.csv", help="training pair list inside --datapath")
    add_option(parser, "--valset", default="val.csv", help="validation pair list inside --datapath")
    add_option(
        parser,
        "--batch-size",
        "--batch_size_train",
        dest="batch_size_train",
        metavar="BATCH_SIZE",
        type=int,
        default=4,
        help="pairs per training step (paper: 4; default 4)",
    )
    add_option(parser, "--epochs", "--n_epochs", type=int, default=50, help="training epochs (default 50)")
    add_option(
        parser, "--lr", "--learning_rate", type=float, default=1e-5, help="Adam learning rate (default 1e-5)"
    )
    add_option(
        parser,
        "--lr_decay_epochs",
        "--scheduler_step",
        type=int,
        default=5,
        help="multiply the learning rate by --lr_decay every this many epochs (default 5)",
    )
    add_option(
        parser,
        "--lr_decay",
        "--scheduler_gamma",
        type=float,
        default=0.5,
        help="step decay factor (default 0.5)",
    )
    add_option(
        parser, "--adam_eps", type=float, default=1e-7, help="Adam epsilon (default 1e-7, as the original)"
    )
    add_option(
        parser, "--ema", type=float, default=0.999, help="EMA decay of the validated weights (default 0.999)"
    )
    add_option(
        parser,
        "--no_ema_warmup",
        action="store_true",
        help="plain EMA decay from the first step (the original); by default the decay is "
        "min(ema, (1+n)/(10+n)) after n steps, which matters only for short runs",
    )
    add_option(
        parser,
        "--no_dequantize",
        action="store_true",
        help="feed v/255 in training instead of the dequantised (v + U[0,1))/256",
    )
    add_option(
        parser,
        "--gradient_checkpointing",
        action="store_true",
        help="recompute each flow step's activations in backward: far less memory (768 px batches on one GPU) "
        "for ~25%% more compute per step; the results do not change",
    )
    add_option(
        parser, "--max_grad_norm", type=float, default=0.0, help="clip the gradient norm (default 0: off)"
    )
    add_option(
        parser,
        "--image_size",
        type=int,
        default=768,
        help="training crop side S (default 768, the paper); images are resized to S·1024/768, rotated ±3°, "
        "cropped to S·1000/768 and resized to S. Must be a multiple of 2**scales",
    )
    add_option(
        parser,
        "--eval_size",
        type=int,
        default=None,
        help="shorter side of validation/test images (default: S·1024/768 to the nearest multiple of "
        "2**scales, i.e. 1024 for S = 768, as the paper); stored in the checkpoint",
    )
    add_option(
        parser,
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help="architecture: paper (6 scales × 8 steps, width 512, 60.49 M parameters; default), small, tiny",
    )
    add_option(parser, "--scales", type=int, default=None, help="override the preset's number of scales")
    add_option(parser, "--steps", type=int, default=None, help="override the preset's flow steps per scale")
    add_option(parser, "--width", type=int, default=None, help="override the preset's coupling width")
    add_option(
        parser,
        "--seed",
        type=int,
        default=100,
        help="seed of weights, data order, augmentation (default 100)",
    )
    add_option(
        parser,
        "--max_steps",
        type=int,
        default=None,
        help="stop after this many optimizer steps in total (smoke runs); validates and saves there",
    )
    add_option(parser, "--save_every", type=int, default=1000, help="also save last.pt every this many steps")
    add_option(parser, "--log_every", type=int, default=10, help="TensorBoard scalars every this many steps")
    add_option(
        parser,
        "--resume",
        "--resume_path",
        default="auto",
        help="auto: continue from WORK_PATH/last.pt if present (default); none: start over (refuses to "
        "overwrite an existing last.pt); or the path of a last.pt to continue from",
    )
    add_option(parser, "--no_tensorboard", action="store_true", help="do not write TensorBoard logs")
    add_option(parser, "--no_test", action="store_true", help="skip the test-set evaluation at the end")
    return parser


# --- setup --------------------------------------------------------------------------------------------------


@dataclass
class Progress:
    """Where the run is; saved in last.pt."""

    epoch: int = 0  # the epoch being trained (== epochs when training is complete)
    step_in_epoch: int = 0  # optimizer steps already done in this epoch
    global_step: int = 0
    best_val_srcc: float = -math.inf
    best_epoch: int | None = None
    validated_at_step: int = -1
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Run:
    """Everything the training loop works on."""

    settings: dict[str, Any]
    config: CDFlowConfig
    device: torch.device
    amp_dtype: torch.dtype | None
    model: CDFlow
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.StepLR
    scaler: torch.amp.GradScaler
    ema: EMA
    progress: Progress
    work: Path


def _read_split(datapath: Path, name: str, image_dir: Path) -> tuple[list[SpcdPair], Path]:
    path = datapath / name
    pairs = read_spcd_csv(path)
    check_pair_images(pairs, image_dir, path)
    return pairs, path


def _architecture(args) -> CDFlowConfig | None:
    """The config asked for on the command line (None: nothing asked, i.e. the paper's unless resuming)."""
    if args.preset is None and args.scales is None and args.steps is None and args.width is None:
        return None
    return preset_config(args.preset or "paper", scales=args.scales, steps=args.steps, width=args.width)


def _settings(args, config: CDFlowConfig) -> dict[str, Any]:
    if args.image_size % config.multiple:
        raise ValueError(
            f"--image_size {args.image_size} is not a multiple of 2**scales = {config.multiple} "
            f"(scales={config.scales}); use e.g. {max(config.multiple, args.image_size // config.multiple * config.multiple)}"
        )
    eval_size = args.eval_size or default_eval_size(args.image_size, config.multiple)
    if eval_size % config.multiple:
        raise ValueError(f"--eval_size {eval_size} is not a multiple of 2**scales = {config.multiple}")
    for name in (
        "batch_size_train",
        "batch_size_test",
        "epochs",
        "lr_decay_epochs",
        "save_every",
        "log_every",
    ):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be ≥ 1, got {getattr(args, name)}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    return {
        "config": config.to_dict(),
        "image_size": args.image_size,
        "eval_size": eval_size,
        "batch_size_train": args.batch_size_train,
        "seed": args.seed,
        "lr": args.lr,
        "lr_decay_epochs": args.lr_decay_epochs,
        "lr_decay": args.lr_decay,
        "adam_eps": args.adam_eps,
        "ema": args.ema,
        "ema_warmup": not args.no_ema_warmup,
        "dequantize": not args.no_dequantize,
        "max_grad_norm": args.max_grad_norm,
    }


def _resume_payload(args, work: Path) -> dict[str, Any] | None:
    resume = str(args.resume)
    last = work / "last.pt"
    if resume == "none":
        if last.exists():
            raise CheckpointError(
                f"{last} exists; rerun with --resume auto to continue it, or use another --work_path"
            )
        return None
    path = last if resume == "auto" else Path(resume)
    if resume == "auto" and not path.exists():
        return None
    payload = load_checkpoint(path)
    if payload["kind"] != "last":
        raise CheckpointError(
            f"{path}: a {payload['kind']}.pt holds no optimizer state; resume from a last.pt"
        )
    return payload


def _check_resume(
    saved: dict[str, Any], wanted: dict[str, Any], asked_config: CDFlowConfig | None, path
) -> None:
    changed = [k for k in RESUME_IDENTITY if k != "config" and saved.get(k) != wanted.get(k)]
    if asked_config is not None and asked_config.to_dict() != saved["config"]:
        changed.insert(0, "config")
    if changed:
        details = "; ".join(
            f"{k}: saved {saved.get(k)!r}, asked {(asked_config.to_dict() if k == 'config' else wanted.get(k))!r}"
            for k in changed
        )
        raise CheckpointError(
            f"{path} was trained with other settings ({details}); resuming must keep them — pass the same "
            f"flags, or use another --work_path (or --resume none there) to start a new run"
        )


def setup(args) -> tuple[Run, dict[str, Any]]:
    """Device, data, model, optimizer, scheduler, EMA — fresh or restored from last.pt."""
    try:
        device = resolve_device(args.device)
    except RuntimeError as err:  # e.g. --device cuda on a machine without CUDA: a usage error
        raise ValueError(str(err)) from None
    amp_dtype = resolve_amp_dtype(args.precision, device)
    work = Path(args.work_path)
    image_dir = Path(args.training_datadir)
    data = {}
    for split, name in (("train", args.trainset), ("val", args.valset)):
        data[split] = _read_split(Path(args.datapath), name, image_dir)
    test_path = Path(args.datapath) / args.testset
    if not args.no_test:
        if not test_path.is_file():
            raise DataError(
                f"{test_path}: test pair list not found (pass --no_test to train without the test)"
            )
        data["test"] = _read_split(Path(args.datapath), args.testset, image_dir)

    payload = _resume_payload(args, work)
    asked = _architecture(args)
    if payload is not None:
        config = CDFlowConfig.from_dict(payload["config"])
        settings = _settings(args, config)
        _check_resume(payload["settings"], settings, asked, work / "last.pt")
    else:
        config = asked or CDFlowConfig()
        settings = _settings(args, config)

    torch.manual_seed(settings["seed"])
    model = CDFlow.from_config(config)
    model.gradient_checkpointing = args.gradient_checkpointing
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], eps=settings["adam_eps"])
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=settings["lr_decay_epochs"], gamma=settings["lr_decay"]
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    if payload is not None:
        model.load_state_dict(payload["model"])
        model.to(device)
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        scaler.load_state_dict(payload["scaler"])
        ema = EMA(model, settings["ema"], settings["ema_warmup"])
        ema.load_state_dict(payload["ema"])
        progress = Progress(**payload["progress"])
    else:
        model.to(device)
        _data_init(model, data["train"], image_dir, settings, device)
        ema = EMA(model, settings["ema"], settings["ema_warmup"])  # after ActNorm's data-dependent init
        progress = Progress()
    run = Run(settings, config, device, amp_dtype, model, optimizer, scheduler, scaler, ema, progress, work)
    return run, data


def _data_init(model: CDFlow, train, image_dir: Path, settings: dict[str, Any], device) -> None:
    """ActNorm's data-dependent init from both images of the first training batch of epoch 0."""
    pairs, path = train
    dataset = TrainPairs(
        pairs,
        image_dir,
        csv_path=path,
        image_size=settings["image_size"],
        seed=settings["seed"],
        dequantize=settings["dequantize"],
    )
    keys = epoch_batches(len(dataset), settings["batch_size_train"], settings["seed"], epoch=0)[0]
    items = [dataset[key] for key in keys]
    batch = torch.stack([item[0] for item in items] + [item[1] for item in items]).to(device)
    model.data_init(batch)


# --- train --------------------------------------------------------------------------------------------------


class _StopFlag:
    """First Ctrl-C: finish the current step, save, stop. Second: the default KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread (e.g. called from a worker thread): no handler
            self._previous = None
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\n{PROG}: interrupt — finishing this step, saving last.pt (Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Logger:
    """log.jsonl always; TensorBoard when installed and wanted."""

    def __init__(self, work: Path, tensorboard: bool) -> None:
        self.path = work / "log.jsonl"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                print(
                    f"{PROG}: tensorboard is not installed (pip install tensorboard); logging to "
                    f"{self.path} only",
                    file=sys.stderr,
                )
            else:
                self.writer = SummaryWriter(str(work / "tensorboard"))

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                if value is not None and math.isfinite(value):
                    self.writer.add_scalar(name, value, step)

    def record(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _train_step(run: Run, x: torch.Tensor, y: torch.Tensor, delta_v: torch.Tensor):
    model, device = run.model, run.device
    model.train()
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    delta_v = delta_v.to(device, non_blocking=True)
    with torch.autocast(device_type=device.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        out = model(torch.cat([x, y]))
    terms = cdflow_loss(out, delta_v)
    if not torch.isfinite(terms.total):  # checked before the update, so the weights stay usable
        raise FloatingPointError(
            f"non-finite loss (distance MSE {terms.distance_mse.item()}, NLL {terms.nll_x.item()} / "
            f"{terms.nll_y.item()} bpd) at step {run.progress.global_step + 1}; {run.work / 'last.pt'} holds "
            f"the last saved state — try a lower --lr, --max_grad_norm, or --precision fp32"
        )
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(terms.total).backward()
    if run.settings["max_grad_norm"] > 0:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.settings["max_grad_norm"])
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.ema.update(model)
    return terms


def _validate(run: Run, val_set: EvalPairs, args) -> dict[str, Any]:
    from cdreasoning import metrics as M

    with run.ema.applied(run.model):
        pred = predict_pairs(
            run.model,
            val_set,
            batch_size=args.batch_size_test,
            device=run.device,
            amp_dtype=run.amp_dtype,
            num_workers=default_workers(args.num_workers, run.device),
            progress=not args.no_progress,
            desc="validation",
        )
    human = np.array([p.delta_v for p in val_set.pairs])
    result: dict[str, Any] = {"val_pairs": len(pred), "val_mean_delta_e": float(pred.mean())}
    for name, fn in (
        ("srcc", M.srcc),
        ("plcc", lambda p, h: M.plcc(p, h, fit="logistic5")),
        ("stress", M.stress),
    ):
        try:
            result[f"val_{name}"] = float(fn(pred, human))
        except ValueError as err:  # e.g. constant predictions: no correlation (recorded, not hidden)
            result[f"val_{name}"] = None
            result[f"val_{name}_error"] = str(err)
    return result


def _checkpoint_header(run: Run, kind: str) -> dict[str, Any]:
    """What every checkpoint of a run carries besides its weights: enough to rebuild and identify the model."""
    return {
        "format": "cdreasoning.cdflow",
        "kind": kind,
        "config": run.config.to_dict(),
        "image_size": run.settings["image_size"],
        "eval_size": run.settings["eval_size"],
        "fingerprint": new_fingerprint(),
    }


def _last_payload(run: Run) -> dict[str, Any]:
    p = run.progress
    return {
        **_checkpoint_header(run, "last"),
        "model": run.model.state_dict(),
        "ema": run.ema.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "settings": run.settings,
        "progress": {
            "epoch": p.epoch,
            "step_in_epoch": p.step_in_epoch,
            "global_step": p.global_step,
            "best_val_srcc": p.best_val_srcc,
            "best_epoch": p.best_epoch,
            "validated_at_step": p.validated_at_step,
            "history": p.history,
        },
    }


def _save_best(run: Run, val_srcc: float) -> None:
    save_checkpoint(
        {
            **_checkpoint_header(run, "best"),
            "model": run.ema.model_state_dict(run.model),
            "epoch": run.progress.epoch + 1,  # 1-based: validated at the end of (or, --max_steps, within) it
            "global_step": run.progress.global_step,
            "val_srcc": val_srcc,
        },
        run.work / "best.pt",
    )


def _validate_and_keep_best(run: Run, val_set: EvalPairs, args, logger: _Logger, train_stats: dict) -> dict:
    result = _validate(run, val_set, args)
    p = run.progress
    srcc = result["val_srcc"]
    score = srcc if srcc is not None else -math.inf
    # The first validation always writes best.pt (the original compared against 0 and could leave none).
    improved = score > p.best_val_srcc or not (run.work / "best.pt").exists()
    if improved:
        p.best_val_srcc, p.best_epoch = score, p.epoch + 1
        _save_best(run, srcc if srcc is not None else float("nan"))
    p.validated_at_step = p.global_step
    entry = {
        "epoch": p.epoch + 1,
        "global_step": p.global_step,
        **train_stats,
        **result,
        "best": improved,
        "lr": run.optimizer.param_groups[0]["lr"],
    }
    p.history.append(entry)
    logger.record(entry)
    logger.scalars(
        {f"val/{k[4:]}": v for k, v in result.items() if k.startswith("val_") and isinstance(v, float)},
        p.global_step,
    )
    return entry


def _train_stats(losses: list[tuple[float, float, float, float]], delta_e: list[float], human: list[float]):
    from cdreasoning import metrics as M

    if not losses:
        return {}
    arr = np.array(losses)
    stats = {
        "train_loss": float(arr[:, 0].mean()),
        "train_distance_mse": float(arr[:, 1].mean()),
        "train_nll_bpd": float((arr[:, 2] + arr[:, 3]).mean() / 2),
        "train_steps": len(losses),
    }
    try:
        stats["train_srcc"] = float(M.srcc(delta_e, human))
    except ValueError:
        stats["train_srcc"] = None
    return stats


def train(args) -> int:
    """The whole run; returns the exit status (0 done, 130 interrupted)."""
    from tqdm import tqdm

    apply_threads(args.threads)
    # setup
    run, data = setup(args)
    model, p, s = run.model, run.progress, run.settings
    train_pairs, train_path = data["train"]
    train_set = TrainPairs(
        train_pairs,
        args.training_datadir,
        csv_path=train_path,
        image_size=s["image_size"],
        seed=s["seed"],
        dequantize=s["dequantize"],
    )
    val_pairs, val_path = data["val"]
    val_set = EvalPairs(
        val_pairs,
        args.training_datadir,
        csv_path=val_path,
        eval_size=s["eval_size"],
        multiple=run.config.multiple,
    )
    run.work.mkdir(parents=True, exist_ok=True)
    if p.global_step == 0 and not p.history:  # a fresh run: no log lines of an older run in this folder
        (run.work / "log.jsonl").unlink(missing_ok=True)
    else:  # resumed: the log is what the checkpoint saw (a line written after it, before a kill, is redone)
        lines = "".join(json.dumps(entry) + "\n" for entry in p.history)
        (run.work / "log.jsonl").write_text(lines, encoding="utf-8")
    for stale in run.work.glob(
        ".*.tmp"
    ):  # a checkpoint save interrupted by a kill (save_checkpoint's temp file)
        print(f"{PROG}: removing {stale}, left by an interrupted checkpoint save", file=sys.stderr)
        stale.unlink(missing_ok=True)
    logger = _Logger(run.work, tensorboard=not args.no_tensorboard)
    steps_per_epoch = batches_per_epoch(len(train_set), s["batch_size_train"])
    epochs = args.epochs
    max_steps = args.max_steps if args.max_steps is not None else math.inf
    amp = "fp32" if run.amp_dtype is None else str(run.amp_dtype).removeprefix("torch.")
    print(
        f"{PROG}: {count_parameters(model):,} parameters ({run.config}), {run.device} {amp}; "
        f"{len(train_set)} training pairs ({steps_per_epoch} steps/epoch at {s['image_size']} px), "
        f"{len(val_set)} validation pairs at {s['eval_size']} px; "
        + (f"resuming at epoch {p.epoch + 1}, step {p.global_step}" if p.global_step else "fresh start")
    )

    # train
    status, started = 0, time.perf_counter()
    with _StopFlag() as stop:
        while p.epoch < epochs and p.global_step < max_steps and not stop.requested:
            batches = epoch_batches(
                len(train_set), s["batch_size_train"], s["seed"], p.epoch, p.step_in_epoch
            )
            loader = torch.utils.data.DataLoader(
                train_set,
                batch_sampler=batches,
                num_workers=default_workers(args.num_workers, run.device),
                pin_memory=run.device.type == "cuda",
            )
            losses, delta_e, human = [], [], []
            bar = tqdm(
                total=steps_per_epoch,
                initial=p.step_in_epoch,
                desc=f"epoch {p.epoch + 1}/{epochs}",
                unit="step",
                disable=args.no_progress,
                dynamic_ncols=True,
            )
            for x, y, delta_v, _ in loader:
                terms = _train_step(run, x, y, delta_v)
                values = (
                    terms.total.item(),
                    terms.distance_mse.item(),
                    terms.nll_x.item(),
                    terms.nll_y.item(),
                )
                p.global_step += 1
                p.step_in_epoch += 1
                losses.append(values)
                delta_e.extend(terms.delta_e.cpu().tolist())
                human.extend(delta_v.tolist())
                bar.update(1)
                bar.set_postfix(loss=f"{values[0]:.4g}", dist=f"{values[1]:.4g}", nll=f"{values[2]:.3f}")
                if p.global_step % args.log_every == 0:
                    logger.scalars(
                        {
                            "train/loss": values[0],
                            "train/distance_mse": values[1],
                            "train/nll_x_bpd": values[2],
                            "train/nll_y_bpd": values[3],
                            "train/lr": run.optimizer.param_groups[0]["lr"],
                        },
                        p.global_step,
                    )
                if p.global_step >= max_steps or stop.requested:
                    break
                if p.global_step % args.save_every == 0:
                    save_checkpoint(_last_payload(run), run.work / "last.pt")
            bar.close()
            if p.step_in_epoch >= steps_per_epoch:  # the epoch is complete
                entry = _validate_and_keep_best(
                    run, val_set, args, logger, _train_stats(losses, delta_e, human)
                )
                _print_epoch(entry, epochs)
                run.scheduler.step()
                p.epoch, p.step_in_epoch = p.epoch + 1, 0
            elif p.global_step >= max_steps and p.validated_at_step != p.global_step:
                entry = _validate_and_keep_best(
                    run, val_set, args, logger, _train_stats(losses, delta_e, human)
                )
                _print_epoch(entry, epochs)
            save_checkpoint(_last_payload(run), run.work / "last.pt")
        if not stop.requested and not (run.work / "best.pt").exists():
            # no validation ran (--max_steps 0): validate and keep the initial model, so that best.pt exists
            _print_epoch(_validate_and_keep_best(run, val_set, args, logger, {}), epochs)
            save_checkpoint(_last_payload(run), run.work / "last.pt")
        if stop.requested:
            print(
                f"{PROG}: stopped at step {p.global_step}; {run.work / 'last.pt'} saved — rerun the same "
                f"command to resume",
                file=sys.stderr,
            )
            status = 130
    logger.close()
    elapsed = time.perf_counter() - started

    # save: last.pt was written at every epoch end and stop, best.pt at every improvement
    if status:
        return status
    print(
        f"{PROG}: trained to epoch {p.epoch}, step {p.global_step} in {elapsed:.1f} s; best validation SRCC "
        f"{p.best_val_srcc:.4f} (epoch {p.best_epoch}) → "
        f"{run.work / 'best.pt'}"
    )

    # test
    if not args.no_test:
        from cdreasoning.cdflow.test import evaluate_checkpoint

        test_pairs, test_path = data["test"]
        evaluate_checkpoint(
            run.work / "best.pt",
            test_path,
            args.training_datadir,
            run.work / "test",
            pairs=test_pairs,
            batch_size=args.batch_size_test,
            device=run.device,
            precision=args.precision,
            num_workers=default_workers(args.num_workers, run.device),
            progress=not args.no_progress,
        )
    return 0


def _print_epoch(entry: dict[str, Any], epochs: int) -> None:
    def fmt(key, digits=4):
        value = entry.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    print(
        f"epoch {entry['epoch']}/{epochs} step {entry['global_step']}: train loss {fmt('train_loss')} "
        f"(distance MSE {fmt('train_distance_mse')}, NLL {fmt('train_nll_bpd', 3)} bpd, SRCC "
        f"{fmt('train_srcc')}); validation SRCC {fmt('val_srcc')} PLCC {fmt('val_plcc')} STRESS "
        f"{fmt('val_stress', 2)}" + ("  [best]" if entry["best"] else "")
    )


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return train(args)
    except (DataError, CheckpointError, ValueError, FloatingPointError) as err:
        print(f"{PROG}: error: {error_text(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
