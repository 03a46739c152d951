"""The mPLUG-Owl2 two-image model, written natively (no monkey-patching, no remote code, no network).

Importing this package registers `MPLUGOwl2Config` / `MPLUGOwl2ForCausalLM` with transformers' `AutoConfig` and
`AutoModelForCausalLM` under `model_type` "mplug_owl2".
"""

from transformers import AutoConfig, AutoModelForCausalLM

from cdreasoning.model.configuration import AbstractorConfig, MPLUGOwl2Config, VisionConfig
from cdreasoning.model.kv_cache import KVCache
from cdreasoning.model.loading import CheckpointError, CheckpointFolder, load_pretrained, read_config
from cdreasoning.model.modeling import MPLUGOwl2ForCausalLM, MPLUGOwl2Output

AutoConfig.register("mplug_owl2", MPLUGOwl2Config, exist_ok=True)
AutoModelForCausalLM.register(MPLUGOwl2Config, MPLUGOwl2ForCausalLM, exist_ok=True)

__all__ = [
    "AbstractorConfig",
    "CheckpointError",
    "CheckpointFolder",
    "KVCache",
    "MPLUGOwl2Config",
    "MPLUGOwl2ForCausalLM",
    "MPLUGOwl2Output",
    "VisionConfig",
    "load_pretrained",
    "read_config",
]
