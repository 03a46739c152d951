"""cdreasoning: measure and explain perceptual colour differences between two photographs.

A two-image multimodal LLM in the mPLUG-Owl2 / Q-Align layout (CLIP ViT-L/14 vision tower, visual abstractor,
modality-adaptive LLaMA-2 decoder), trained and evaluated on SPCD / M-SPCD, with CD-Flow and CIE ΔE baselines.

The package face is lazy (PEP 562 module `__getattr__`): `import cdreasoning` and `import cdreasoning.metrics`
load neither torch nor transformers; `cdreasoning.CDScorer`, `cdreasoning.load_pretrained` … import their
module on first use. Importing `cdreasoning.model` (which these names do) registers the model with
transformers, so `AutoModelForCausalLM.from_pretrained(path)` loads mPLUG-Owl2 checkpoints too (strictly, as
`load_pretrained` does). `import cdreasoning` switches the Hugging Face libraries offline unless you set
`HF_HUB_OFFLINE` yourself or `CDREASONING_ALLOW_HUB=1` (see `cdreasoning.offline`).
The layers and what each may import: README "Layout" (tests/test_layers.py enforces it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import cdreasoning.offline  # noqa: F401 - first: sets HF_HUB_OFFLINE before huggingface_hub reads it

__version__ = "0.1.0"

# public name → module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "CDScorer": "cdreasoning.inference.scorer",
    "Description": "cdreasoning.inference.scorer",
    "ScoreResult": "cdreasoning.inference.scorer",
    "LevelScale": "cdreasoning.inference.levels",
    "MPLUGOwl2Config": "cdreasoning.model",
    "MPLUGOwl2ForCausalLM": "cdreasoning.model",
    "load_pretrained": "cdreasoning.model",
    "CheckpointError": "cdreasoning.errors",
    "DataError": "cdreasoning.errors",
    "ImageError": "cdreasoning.errors",
}

__all__ = [
    "CDScorer",
    "CheckpointError",
    "DataError",
    "Description",
    "ImageError",
    "LevelScale",
    "MPLUGOwl2Config",
    "MPLUGOwl2ForCausalLM",
    "ScoreResult",
    "__version__",
    "load_pretrained",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cdreasoning' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:  # static analysers and IDEs see the names; nothing is imported at run time
    from cdreasoning.errors import CheckpointError, DataError, ImageError
    from cdreasoning.inference.levels import LevelScale
    from cdreasoning.inference.scorer import CDScorer, Description, ScoreResult
    from cdreasoning.model import MPLUGOwl2Config, MPLUGOwl2ForCausalLM, load_pretrained
