"""Model families behind one seam (see `cdreasoning.backbones.base`): the native mPLUG-Owl2 model and
transformers-native vision-language models. Imported lazily: `detect_backbone` needs neither torch nor
transformers."""

from cdreasoning.backbones.base import Backbone, Prompt, detect_backbone, read_model_type

__all__ = ["Backbone", "Prompt", "as_backbone", "detect_backbone", "load_backbone", "read_model_type"]


def __getattr__(name):
    if name in ("load_backbone", "as_backbone"):
        from cdreasoning.backbones import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'cdreasoning.backbones' has no attribute {name!r}")
