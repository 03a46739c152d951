"""CD-Flow checkpoint files: written atomically, self-describing, loadable without any flag.

    from cdreasoning.cdflow.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
    save_checkpoint(payload, "work_dir/last.pt")     # temp file + rename: never a half-written checkpoint
    model, info = model_from_checkpoint("work_dir/best.pt", device="cpu")

Two kinds, both one `torch.save` dict with `format`, `kind`, `config` (CDFlowConfig.to_dict()), `image_size`
(training crop side S), `eval_size` (evaluation shorter side), `fingerprint` (changes with every save):

- best.pt (`kind` "best"): `model` = the EMA weights at the best validation SRCC, plus `epoch`,
  `global_step`, `val_srcc`. This is the released artefact: `cdflow test` and `CDFlowMetric` load it.
- last.pt (`kind` "last"): everything to resume exactly — `model` (trained weights), `ema`, `optimizer`,
  `scheduler`, `scaler`, `progress` (epoch, step in epoch, global step, best validation SRCC) and
  `settings` (the run settings a resume must keep). Its metric weights are the EMA ones.

Loading uses `torch.load(weights_only=True)`: a checkpoint holds tensors and plain values only.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch

from cdreasoning.cdflow.config import CDFlowConfig
from cdreasoning.cdflow.flow import CDFlow
from cdreasoning.errors import CheckpointError

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "model_from_checkpoint",
    "new_fingerprint",
    "save_checkpoint",
]

FORMAT = "cdreasoning.cdflow"
KINDS = ("best", "last")
REQUIRED = ("format", "kind", "config", "image_size", "eval_size", "model")


def new_fingerprint() -> str:
    return uuid.uuid4().hex


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """torch.save into a temporary file beside `path`, then rename over it (atomic on POSIX and Windows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        torch.save(payload, tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, checked for the fields every kind has. Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle, zip and torch errors all mean "not usable"
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a CD-Flow checkpoint of this package (no format {FORMAT!r})")
    missing = [key for key in REQUIRED if key not in payload]
    if missing or payload["kind"] not in KINDS:
        raise CheckpointError(
            f"{path}: incomplete CD-Flow checkpoint (missing {missing}, kind {payload['kind']!r})"
        )
    return payload


def metric_state_dict(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights the metric uses: best.pt's model (already EMA), or last.pt's model with the EMA on top."""
    state = dict(payload["model"])
    if payload["kind"] == "last" and payload.get("ema"):
        state.update(payload["ema"]["shadow"])
    return state


def model_from_checkpoint(
    path: str | Path | dict[str, Any], device: torch.device | str = "cpu"
) -> tuple[CDFlow, dict[str, Any]]:
    """(model in eval mode on `device`, the checkpoint dict without the weights)."""
    payload = path if isinstance(path, dict) else load_checkpoint(path)
    where = "checkpoint" if isinstance(path, dict) else str(path)
    try:
        config = CDFlowConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: bad model config {payload['config']!r}: {err}") from None
    model = CDFlow.from_config(config)
    try:
        model.load_state_dict(metric_state_dict(payload))
    except RuntimeError as err:
        raise CheckpointError(f"{where}: weights do not fit the config {config}: {err}") from None
    if not model.is_initialized:
        raise CheckpointError(
            f"{where}: the model's ActNorm layers were never initialised (an untrained save)"
        )
    model.to(device).eval()
    info = {k: v for k, v in payload.items() if k not in ("model", "ema", "optimizer", "scheduler", "scaler")}
    return model, info
