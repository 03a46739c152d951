"""A checkpoint folder's `config.json`, read and checked once, before any loader (core layer: no torch).

Which loader a folder gets (mPLUG-Owl2 or a transformers-native VLM) depends on its `model_type`, so the
folder is checked here first, with one clear error for each way a path can be wrong:

    raw = read_checkpoint_config("/models/one-align")   # dict; raw["model_type"] == "mplug_owl2"

The loaders take this dict (`CheckpointFolder.open(path, raw)`), so a scorer reads config.json once.
"""

from __future__ import annotations

import json
from pathlib import Path

from cdreasoning.errors import CheckpointError


class CheckpointNotFound(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


def read_checkpoint_config(path: str | Path) -> dict:
    """The parsed `config.json` of a checkpoint folder; every error names the path and what is wrong with it
    (a file given for the folder, a missing folder, a LoRA adapter folder, no/invalid config, no model_type)."""
    folder = Path(path)
    if folder.is_file():
        raise CheckpointError(
            f"{folder} is a file, not a checkpoint folder",
            hint=f"pass the folder that holds config.json and the weights ({folder.parent}?)",
        )
    if not folder.is_dir():
        raise CheckpointNotFound(
            f"checkpoint folder {folder} does not exist",
            hint="weights are never downloaded; pass a local checkpoint folder (mPLUG-Owl2 layout, or a "
            "transformers-native vision-language model)",
        )
    if (folder / "adapter_config.json").is_file():
        raise CheckpointError(
            f"{folder} is a LoRA adapter folder (it has adapter_config.json), not a standalone checkpoint",
            hint=f"pass the merged model, or merge it first: cdreasoning export --merge-lora {folder} "
            f"--out {folder}-merged",
        )
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: no config.json (is this a Hugging Face checkpoint folder?)")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_file}: invalid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{config_file}: not UTF-8 text ({exc})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{config_file}: expected a JSON object, found {type(raw).__name__}")
    if not raw.get("model_type"):
        raise CheckpointError(f"{config_file}: no model_type")
    return raw
