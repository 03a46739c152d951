"""Command-line pieces shared by `cdflow train` and `cdflow test`: options, precision, workers, error text."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from cdreasoning.runtime import resolve_dtype

__all__ = [
    "add_data_arguments",
    "add_option",
    "apply_threads",
    "default_workers",
    "error_text",
    "resolve_amp_dtype",
]


def add_option(parser: argparse.ArgumentParser, name: str, *aliases: str, **kwargs) -> None:
    """An option under its dashed spelling (canonical, first in --help), then the seed's spelling `name`
    (underscores) and any other original alias; `args.<name with underscores>` holds the value."""
    dashed = name.replace("_", "-")
    names = [dashed, *([name] if dashed != name else []), *aliases]
    kwargs.setdefault("dest", name.lstrip("-").replace("-", "_"))
    parser.add_argument(*names, **kwargs)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--image-folder",
        "--training_datadir",
        "--image_folder",
        "--datadir",
        "--dataset",
        dest="training_datadir",
        metavar="IMAGE_FOLDER",
        type=Path,
        required=True,
        help="folder holding the images named in the CSV files (the seed's --training_datadir; its test "
        "script called it --dataset and its README --datadir; every spelling works)",
    )
    add_option(
        parser,
        "--datapath",
        type=Path,
        default=Path("data"),
        help="folder with train.csv, val.csv and test.csv (default: data)",
    )
    add_option(
        parser,
        "--work_path",
        type=Path,
        default=Path("work_dir"),
        help="run folder: last.pt, best.pt, log.jsonl, tensorboard/, test/ (default: work_dir)",
    )
    add_option(
        parser, "--testset", default="test.csv", help="test pair list inside --datapath (default: test.csv)"
    )
    add_option(
        parser, "--batch_size_test", type=int, default=4, help="pairs per evaluation batch (default 4)"
    )
    add_option(
        parser, "--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps"
    )
    add_option(
        parser,
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="auto: mixed precision (bf16, or fp16 without bf16 support) on CUDA, fp32 elsewhere; the "
        "coupling networks run in it, latents and log-determinants stay fp32",
    )
    add_option(
        parser,
        "--num_workers",
        type=int,
        default=None,
        help="image-loading processes (default: 0 on CPU, min(8, cores) on a GPU)",
    )
    add_option(
        parser,
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch (default: torch's choice, one per core); 1 is much faster when other "
        "processes compete for the cores",
    )
    add_option(parser, "--no_progress", action="store_true", help="no progress bars")


def apply_threads(threads: int | None) -> None:
    """torch.set_num_threads(threads) when given (validated)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be ≥ 1, got {threads}")
        torch.set_num_threads(threads)


def resolve_amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32. "auto": mixed precision on CUDA only."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    dtype = resolve_dtype("auto" if precision == "auto" else precision, device)
    return None if dtype == torch.float32 else dtype


def default_workers(requested: int | None, device: torch.device) -> int:
    """Image-loading processes: as requested, else 0 on CPU (they would compete with the compute), else
    min(8, cores)."""
    if requested is not None:
        return max(0, requested)
    return 0 if device.type == "cpu" else min(8, os.cpu_count() or 1)


def error_text(err: BaseException) -> str:
    """The message of an error, without the traceback a DataLoader worker wraps around it."""
    text = str(err)
    if "Original Traceback" in text:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        text = lines[-1].split(": ", 1)[-1] if lines else text
    return text
