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

from cdreasoning.cdflow.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from cdreasoning.cdflow.config import PRESETS, CDFlowConfig, preset_config
from cdreasoning.cdflow.flow import CDFlow, FlowOutput, count_parameters, latent_distances
from cdreasoning.cdflow.loss import LossTerms, cdflow_loss, nll_bits_per_dim
from cdreasoning.cdflow.metric import CDFlowMetric

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
