"""cdreasoning: measure and explain perceptual colour differences between two photographs.

A two-image multimodal LLM in the mPLUG-Owl2 / Q-Align layout (CLIP ViT-L/14 vision tower, visual abstractor,
modality-adaptive LLaMA-2 decoder), trained and evaluated on SPCD / M-SPCD, with CD-Flow and CIE ΔE baselines.

Importing the package registers the model with transformers, so `AutoModelForCausalLM.from_pretrained(path)`
loads mPLUG-Owl2 checkpoints too (strictly), and switches the Hugging Face libraries offline unless you set
`HF_HUB_OFFLINE` yourself or `CDREASONING_ALLOW_HUB=1` (see `cdreasoning.offline`).
"""

import cdreasoning.offline  # noqa: F401 - first: sets HF_HUB_OFFLINE before huggingface_hub reads it

__version__ = "0.1.0"

from cdreasoning.inference import CDScorer, Description, LevelScale, ScoreResult
from cdreasoning.model import (
    CheckpointError,
    MPLUGOwl2Config,
    MPLUGOwl2ForCausalLM,
    load_pretrained,
)

__all__ = [
    "CDScorer",
    "CheckpointError",
    "Description",
    "LevelScale",
    "MPLUGOwl2Config",
    "MPLUGOwl2ForCausalLM",
    "ScoreResult",
    "__version__",
    "load_pretrained",
]
