"""cdreasoning: measure and explain perceptual colour differences between two photographs.

A two-image multimodal LLM in the mPLUG-Owl2 / Q-Align layout (CLIP ViT-L/14 vision tower, visual abstractor,
modality-adaptive LLaMA-2 decoder), trained and evaluated on SPCD / M-SPCD, with CD-Flow and CIE ΔE baselines.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
