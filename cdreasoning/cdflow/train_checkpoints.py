"""What a training run writes: last.pt (everything to resume) and best.pt (the EMA weights to use).

    save_last(run)                  # WORK_PATH/last.pt, atomically (temporary file + rename)
    save_best(run, val_srcc)        # WORK_PATH/best.pt: EMA weights, epoch, step, validation SRCC

Both carry the same header (format, kind, architecture, training and evaluation size, a fresh fingerprint),
so `cdflow test` and `CDFlowMetric.from_checkpoint` rebuild the model without flags. The layout of last.pt
is what `train_setup.setup` reads back on resume.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from cdreasoning.cdflow.checkpoint import new_fingerprint, save_checkpoint
from cdreasoning.cdflow.train_setup import Run

__all__ = ["checkpoint_header", "last_payload", "save_best", "save_last"]


def checkpoint_header(run: Run, kind: str) -> dict[str, Any]:
    """What every checkpoint of a run carries besides its weights: enough to rebuild and identify the model."""
    return {
        "format": "cdreasoning.cdflow",
        "kind": kind,
        "config": run.config.to_dict(),
        "image_size": run.settings.image_size,
        "eval_size": run.settings.eval_size,
        "fingerprint": new_fingerprint(),
    }


def _contiguous(state: dict[str, Any]) -> dict[str, Any]:
    """Tensors in the default layout: a --channels-last run writes the same file as any other."""
    return {k: v.contiguous() if hasattr(v, "contiguous") else v for k, v in state.items()}


def last_payload(run: Run) -> dict[str, Any]:
    return {
        **checkpoint_header(run, "last"),
        "model": _contiguous(run.model.state_dict()),
        "ema": run.ema.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "settings": run.identity,
        "progress": asdict(run.progress),
    }


def save_last(run: Run) -> Path:
    return save_checkpoint(last_payload(run), run.work / "last.pt")


def save_best(run: Run, val_srcc: float) -> Path:
    return save_checkpoint(
        {
            **checkpoint_header(run, "best"),
            "model": _contiguous(run.ema.model_state_dict(run.model)),
            "epoch": run.progress.epoch + 1,  # 1-based: validated at the end of (or, --max-steps, within) it
            "global_step": run.progress.global_step,
            "val_srcc": val_srcc,
        },
        run.work / "best.pt",
    )
