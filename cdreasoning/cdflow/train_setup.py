"""Setup of a `cdflow train` run: device, data, model, optimizer, scheduler, EMA — fresh or restored from last.pt.

    run, data = setup(settings)          # settings: a TrainSettings; run: a Run the loop works on

A fresh run initialises ActNorm from both images of its first training batch and only then takes the EMA
copy (the original took it before, so its ActNorm averages started from loc 0, scale 1). A resumed run
restores everything from last.pt after checking that the settings that define the run are unchanged
(`train_settings.RESUME_IDENTITY`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cdreasoning.cdflow.checkpoint import CheckpointError, load_checkpoint
from cdreasoning.cdflow.config import CDFlowConfig
from cdreasoning.cdflow.data import TrainPairs, check_pair_images, epoch_batches
from cdreasoning.cdflow.ema import EMA
from cdreasoning.cdflow.flow import CDFlow
from cdreasoning.cdflow.options import resolve_amp_dtype
from cdreasoning.cdflow.train_settings import RESUME_IDENTITY, TrainSettings
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.errors import DataError
from cdreasoning.runtime import resolve_device

__all__ = ["Progress", "Run", "setup"]

Split = tuple[list[SpcdPair], Path]  # the pairs of a CSV file and its path (for error messages)


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
    """Everything the training loop works on. `settings` are resolved (eval_size filled in)."""

    settings: TrainSettings
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

    @property
    def identity(self) -> dict[str, Any]:
        """The settings saved in last.pt (and compared on resume)."""
        return self.settings.identity(self.config)


def _read_split(datapath: Path, name: str, image_dir: Path) -> Split:
    path = datapath / name
    pairs = read_spcd_csv(path)
    check_pair_images(pairs, image_dir, path)
    return pairs, path


def read_splits(settings: TrainSettings) -> dict[str, Split]:
    """train, val and (unless --no-test) test pair lists, every named image checked to exist."""
    data = {
        "train": _read_split(settings.datapath, settings.trainset, settings.training_datadir),
        "val": _read_split(settings.datapath, settings.valset, settings.training_datadir),
    }
    if settings.test:
        test_path = settings.datapath / settings.testset
        if not test_path.is_file():
            raise DataError(
                f"{test_path}: test pair list not found (pass --no-test to train without the test)"
            )
        data["test"] = _read_split(settings.datapath, settings.testset, settings.training_datadir)
    return data


def _resume_payload(settings: TrainSettings) -> dict[str, Any] | None:
    resume, last = str(settings.resume), settings.work_path / "last.pt"
    if resume == "none":
        if last.exists():
            raise CheckpointError(
                f"{last} exists; rerun with --resume auto to continue it, or use another --work-path"
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


def _check_resume(saved: dict[str, Any], wanted: dict[str, Any], asked: CDFlowConfig | None, path) -> None:
    changed = [k for k in RESUME_IDENTITY if k != "config" and saved.get(k) != wanted.get(k)]
    if asked is not None and asked.to_dict() != saved["config"]:
        changed.insert(0, "config")
    if changed:
        details = "; ".join(
            f"{k}: saved {saved.get(k)!r}, asked {(asked.to_dict() if k == 'config' else wanted.get(k))!r}"
            for k in changed
        )
        raise CheckpointError(
            f"{path} was trained with other settings ({details}); resuming must keep them — pass the same "
            f"flags, or use another --work-path (or --resume none there) to start a new run"
        )


def train_dataset(settings: TrainSettings, split: Split) -> TrainPairs:
    """The augmented training pairs (order and augmentation are functions of seed, epoch and pair)."""
    pairs, path = split
    return TrainPairs(
        pairs,
        settings.training_datadir,
        csv_path=path,
        image_size=settings.image_size,
        seed=settings.seed,
        dequantize=settings.dequantize,
    )


def _data_init(model: CDFlow, dataset: TrainPairs, settings: TrainSettings, device: torch.device) -> None:
    """ActNorm's data-dependent init from both images of the first training batch of epoch 0."""
    keys = epoch_batches(len(dataset), settings.batch_size_train, settings.seed, epoch=0)[0]
    items = [dataset[key] for key in keys]
    batch = torch.stack([item[0] for item in items] + [item[1] for item in items]).to(device)
    model.data_init(batch)


def setup(settings: TrainSettings) -> tuple[Run, dict[str, Split]]:
    """Device, data, model, optimizer, scheduler, EMA — fresh or restored from last.pt."""
    try:
        device = resolve_device(settings.device)
    except RuntimeError as err:  # e.g. --device cuda on a machine without CUDA: a usage error
        raise ValueError(str(err)) from None
    amp_dtype = resolve_amp_dtype(settings.precision, device)
    data = read_splits(settings)

    payload = _resume_payload(settings)
    asked = settings.asked_config()
    if payload is not None:
        config = CDFlowConfig.from_dict(payload["config"])
        settings = settings.resolved(config)
        _check_resume(payload["settings"], settings.identity(config), asked, settings.work_path / "last.pt")
    else:
        config = asked or CDFlowConfig()
        settings = settings.resolved(config)

    torch.manual_seed(settings.seed)
    model = CDFlow.from_config(config)
    model.gradient_checkpointing = settings.gradient_checkpointing
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, eps=settings.adam_eps)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=settings.lr_decay_epochs, gamma=settings.lr_decay
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    if payload is not None:
        model.load_state_dict(payload["model"])
        model.to(device)
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        scaler.load_state_dict(payload["scaler"])
        ema = EMA(model, settings.ema, settings.ema_warmup)
        ema.load_state_dict(payload["ema"])
        progress = Progress(**payload["progress"])
    else:
        model.to(device)
        _data_init(model, train_dataset(settings, data["train"]), settings, device)
        ema = EMA(model, settings.ema, settings.ema_warmup)  # after ActNorm's data-dependent init
        progress = Progress()
    if settings.channels_last:
        # NHWC activations: the weights follow (4-D convolution weights only; the maths is unchanged).
        model.to(memory_format=torch.channels_last)
    if settings.compile:
        model.compile_couplings()
    run = Run(
        settings,
        config,
        device,
        amp_dtype,
        model,
        optimizer,
        scheduler,
        scaler,
        ema,
        progress,
        settings.work_path,
    )
    return run, data
