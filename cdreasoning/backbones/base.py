"""The backbone seam: what scoring, description, training and evaluation need from a model family.

A backbone is one loaded model with its tokenizer and image preprocessing. Two implementations:

- `Owl2Backbone` (`cdreasoning.backbones.owl2`): the native mPLUG-Owl2 model, exactly as before (the reference
  fixtures of the original implementation hold for it);
- `HFVisionLanguageBackbone` (`cdreasoning.backbones.hf_vlm`): any transformers-native image-text-to-text model
  (Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3 / SmolVLM, …) through `AutoModelForImageTextToText` + its processor,
  prompted with the checkpoint's own chat template, two images in one user turn.

Which one a checkpoint folder gets is decided by `config.json`'s `model_type` (`detect_backbone`); no flag.

Shapes: b pairs in a batch, v vocabulary size. A *pair batch* is backbone-specific and opaque to callers: it is
what `collate([load_pair(a, b), …])` returns (Owl2: pixel_values [2b, 3, S, S]; HF: the decoded RGB image
pairs, which the processor turns into inputs together with the prompt, since image-token counts depend on the
image sizes there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cdreasoning.checkpoint_config import read_checkpoint_config

# model_type in config.json → backbone kind. Everything transformers ships as an image-text-to-text model works
# through the HF path; these are the families the tests cover end to end on their tiny presets.
OWL2_MODEL_TYPES = ("mplug_owl2",)
HF_TESTED_MODEL_TYPES = ("qwen2_5_vl", "qwen3_vl", "qwen3_5", "idefics3")


@dataclass(frozen=True)
class Prompt:
    """A prompt shared by every pair of a batch.

    text: the rendered prompt (template, question, image placeholders of the family, the answer prefix if any);
    ids: its token ids as the backbone's `encode` gives them (Owl2: with −200 image sentinels; HF: the text's
    tokens with the image placeholders not yet expanded — the processor expands them per image).
    """

    text: str
    ids: list[int]


@runtime_checkable
class Backbone(Protocol):
    """The seam. `kind` is "mplug_owl2" or "hf_vlm"; `model_type` the checkpoint's config value."""

    kind: str
    model: Any
    tokenizer: Any

    @property
    def device(self): ...

    @property
    def dtype(self): ...

    def prompt(self, user_message: str, conv_template: str, answer_prefix: str | None = None) -> Prompt:
        """`user_message` holds the question and two `<|image|>` placeholders where the images go."""

    def encode(self, text: str) -> list[int]:
        """Token ids of a prompt text, the same function that gave `Prompt.ids` (level words are looked up by
        encoding prompt + " " + word with it)."""

    def load_pair(self, image_a, image_b) -> Any:
        """One pair's images, ready to batch (runs in DataLoader workers; raises ImageError naming the file)."""

    def collate(self, items: list) -> Any:
        """A pair batch from `load_pair` results, in order."""

    def answer_logits(self, prompt: Prompt, batch) -> Any:
        """Next-token logits after the prompt for every pair: [b, v]."""

    def generate(self, prompt: Prompt, batch, **generation) -> list[str]:
        """One generated text per pair (greedy when temperature is 0)."""


def read_model_type(path: str | Path) -> str:
    """`model_type` of a checkpoint folder's config.json; errors name the path (`read_checkpoint_config`)."""
    return read_checkpoint_config(path)["model_type"]


def detect_backbone(path_or_config: str | Path | dict) -> str:
    """ "mplug_owl2" or "hf_vlm" for a checkpoint folder, or for its config.json already read as a dict, from
    `model_type` (torch not imported)."""
    raw = path_or_config if isinstance(path_or_config, dict) else read_checkpoint_config(path_or_config)
    if raw["model_type"] in OWL2_MODEL_TYPES:
        return "mplug_owl2"
    return "hf_vlm"
