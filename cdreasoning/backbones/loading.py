"""One entry point from a checkpoint folder (or already-loaded parts) to the right backbone.

    backbone = load_backbone("/models/Qwen2.5-VL-7B-Instruct", device="auto", dtype="auto")   # HF VLM
    backbone = load_backbone("/models/one-align")                                             # mPLUG-Owl2

The family comes from config.json's `model_type` (`detect_backbone`).
"""

from __future__ import annotations

from pathlib import Path

from cdreasoning.backbones.base import detect_backbone


def as_backbone(model, tokenizer=None, image_processor=None):
    """Wrap loaded parts: an mPLUG-Owl2 model with its tokenizer and ImageProcessor, or an HF image-text-to-text
    model with its processor (passed as `image_processor`; the tokenizer is the processor's)."""
    if getattr(model, "kind", None) in ("mplug_owl2", "hf_vlm"):
        return model  # already a backbone
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type == "mplug_owl2":
        from cdreasoning.backbones.owl2 import Owl2Backbone

        return Owl2Backbone(model, tokenizer, image_processor)
    from cdreasoning.backbones.hf_vlm import HFVisionLanguageBackbone

    if image_processor is None or not hasattr(image_processor, "apply_chat_template"):
        raise TypeError(
            f"a {model_type} model needs its transformers processor (AutoProcessor) as image_processor"
        )
    return HFVisionLanguageBackbone(model, image_processor, model_type)


def load_backbone(
    path: str | Path,
    device="auto",
    dtype="auto",
    attention: str = "auto",
    max_pixels: int | None = None,
):
    """The backbone of a checkpoint folder. `max_pixels` caps the pixels per image of dynamic-resolution
    processors (HF Qwen-VL family); the mPLUG-Owl2 backbone always uses its fixed image size."""
    if detect_backbone(path) == "hf_vlm":
        from cdreasoning.backbones.hf_vlm import load_hf_backbone

        return load_hf_backbone(path, device=device, dtype=dtype, attention=attention, max_pixels=max_pixels)
    from cdreasoning.backbones.owl2 import load_owl2_backbone

    return load_owl2_backbone(path, device=device, dtype=dtype, attention=attention)
