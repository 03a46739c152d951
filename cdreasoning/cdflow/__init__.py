"""CD-Flow: the normalizing-flow colour-difference metric of Wang et al. (CVPR 2023), trainable and usable here.

    from cdreasoning.cdflow import CDFlow, CDFlowMetric
    model = CDFlow(scales=6, steps=8, width=512)          # the paper's flow, 60,488,496 parameters
    metric = CDFlowMetric.from_checkpoint("work_dir/best.pt")
    delta_e = metric(img_a, img_b)                        # ΔE per pair

Commands: `cdreasoning cdflow train …` and `cdreasoning cdflow test …` (docs/cdflow.md).

Files: config (architecture + presets), actnorm / invconv / coupling (the layers), flow (the multi-scale model,
distances), loss, data (augmentation, evaluation preprocessing, resumable order), ema, checkpoint, predict
(batched scoring), metric (CDFlowMetric), train / test / cli (entry points).
"""

import importlib
from typing import TYPE_CHECKING, Any

# public name → module defining it. Imported on first access (PEP 562), so `cdreasoning cdflow --help` and the
# command modules' parsers do not pay for torch before a command actually runs.
_LAZY: dict[str, str] = {
    "CheckpointError": "cdreasoning.errors",
    "load_checkpoint": "cdreasoning.cdflow.checkpoint",
    "model_from_checkpoint": "cdreasoning.cdflow.checkpoint",
    "PRESETS": "cdreasoning.cdflow.config",
    "CDFlowConfig": "cdreasoning.cdflow.config",
    "preset_config": "cdreasoning.cdflow.config",
    "CDFlow": "cdreasoning.cdflow.flow",
    "FlowOutput": "cdreasoning.cdflow.flow",
    "count_parameters": "cdreasoning.cdflow.flow",
    "latent_distances": "cdreasoning.cdflow.flow",
    "LossTerms": "cdreasoning.cdflow.loss",
    "cdflow_loss": "cdreasoning.cdflow.loss",
    "nll_bits_per_dim": "cdreasoning.cdflow.loss",
    "CDFlowMetric": "cdreasoning.cdflow.metric",
}

__all__ = [
    "PRESETS",
    "CDFlow",
    "CDFlowConfig",
    "CDFlowMetric",
    "CheckpointError",
    "FlowOutput",
    "LossTerms",
    "cdflow_loss",
    "count_parameters",
    "latent_distances",
    "load_checkpoint",
    "model_from_checkpoint",
    "nll_bits_per_dim",
    "preset_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cdreasoning.cdflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from cdreasoning.cdflow.checkpoint import load_checkpoint, model_from_checkpoint
    from cdreasoning.cdflow.config import PRESETS, CDFlowConfig, preset_config
    from cdreasoning.cdflow.flow import CDFlow, FlowOutput, count_parameters, latent_distances
    from cdreasoning.cdflow.loss import LossTerms, cdflow_loss, nll_bits_per_dim
    from cdreasoning.cdflow.metric import CDFlowMetric
    from cdreasoning.errors import CheckpointError
