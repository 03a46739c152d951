"""Model presets and writing a complete, randomly initialised checkpoint folder.

- `tiny`: a ~1.3 M-parameter model with the full architecture (64-px images, 8×8 patches, 8 queries per image,
  2-layer decoder of width 128) and the project's small tokenizer. It trains on a CPU in minutes, which is what
  the quickstart, the tests and the benchmarks use. Its vision position embeddings are drawn ×10 larger than
  the other weights (std 0.2, `TINY_VISION_POSITION_SCALE`): the quickstart keeps this random tower frozen,
  and with std 0.02 the pre-LayerNorm after the patch projection erases most of each patch's brightness
  (docs/training.md, "Where the information is lost": a linear probe of the frozen tower's features reaches
  held-out SRCC 0.677 at ×1 and 0.775 at ×10).
- `owl2-7b`: the real mPLUG-Owl2 / Q-Align sizes (8.198 B parameters: ViT-L/14 at 448 px, 6-layer abstractor with
  64 queries, LLaMA-2-7B with the visual `multiway.1` copies, 1.074 B of them). The written tokenizer is the small
  project one unless `tokenizer_from` points at a LLaMA-2 tokenizer folder; the vocabulary stays 32,000 either way.

    write_checkpoint("tiny", "ckpt/tiny", seed=0)     # config.json, model.safetensors, tokenizer, preprocessor
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch

from cdreasoning.model.configuration import AbstractorConfig, MPLUGOwl2Config, VisionConfig
from cdreasoning.processing.images import ImageProcessor
from cdreasoning.processing.tokenizer_files import build_tokenizer, load_tokenizer

PRESETS = ("tiny", "owl2-7b")
# The tiny preset's vision position embeddings, × the initializer range (see the module docstring).
TINY_VISION_POSITION_SCALE = 10.0


def preset_config(name: str, vocab_size: int | None = None) -> MPLUGOwl2Config:
    """The MPLUGOwl2Config of a preset. `vocab_size` overrides the preset's (tiny: the tokenizer's size)."""
    if name == "tiny":
        vision = VisionConfig(
            hidden_size=96,
            intermediate_size=384,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=64,
            patch_size=8,
        )
        abstractor = AbstractorConfig(
            num_learnable_queries=8,
            hidden_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=256,
            encoder_hidden_size=96,
            grid_size=vision.grid_size,
        )
        config = MPLUGOwl2Config(
            # The tiny tokenizer's size when given; 1024 (the small tokenizer's size) otherwise.
            vocab_size=vocab_size or 1024,
            hidden_size=128,
            intermediate_size=352,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=1024,
            # Pad 0 (<unk> in the LLaMA vocabulary), as mPLUG-Owl2 / Q-Align pad with the unk token.
            pad_token_id=0,
            visual_config={
                "visual_model": dataclasses.asdict(vision),
                "visual_abstractor": dataclasses.asdict(abstractor),
            },
        )
    elif name == "owl2-7b":
        config = MPLUGOwl2Config(vocab_size=vocab_size or 32000, pad_token_id=0)
    else:
        raise ValueError(f"unknown preset {name!r}; choose one of {PRESETS}")
    # The original's class name, so the written config.json also loads in the mPLUG-Owl2 / Q-Align code.
    config.architectures = ["MPLUGOwl2LlamaForCausalLM"]
    config.check_consistency()
    return config


def write_checkpoint(
    preset: str,
    out_dir: str | Path,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    tokenizer_from: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a randomly initialised checkpoint in the released layout; returns the folder.

    Refuses a non-empty folder unless `overwrite`. The weights are float32 unless `dtype` says otherwise
    (bf16 halves the 7B preset's 33 GB).
    """
    from cdreasoning.model.modeling import MPLUGOwl2ForCausalLM

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer_from is not None:
        for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
            if Path(tokenizer_from, name).is_file():
                shutil.copy(Path(tokenizer_from, name), out / name)
    else:
        build_tokenizer(out, vocab_size=1024)
    tokenizer = load_tokenizer(out)
    # tiny: the vocabulary is exactly the small tokenizer's;
    # owl2-7b keeps LLaMA's 32,000 whatever the tokenizer.
    vocab = len(tokenizer) if preset == "tiny" else None
    config = preset_config(preset, vocab_size=vocab)
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model only {config.vocab_size}")

    # Seeded before building: _init_weights draws every weight, so one seed gives one checkpoint.
    torch.manual_seed(seed)
    model = MPLUGOwl2ForCausalLM(config)
    if preset == "tiny":
        # Scaled after the draw, so every other weight is the same as with the plain initialisation.
        with torch.no_grad():
            model.model.vision_model.embeddings.position_embedding.mul_(TINY_VISION_POSITION_SCALE)
    model = model.to(dtype)
    model.save_pretrained(out)
    ImageProcessor(size=config.vision.image_size).save_pretrained(out)
    # transformers' GenerationConfig reads this file: LLaMA's bos 1 / eos 2 and the config's pad.
    generation = {
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "pad_token_id": config.pad_token_id,
    }
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    return out


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    """Total parameters and the parts users ask about (works on the meta device)."""
    counts = {
        "total": 0,
        "vision_model": 0,
        "visual_abstractor": 0,
        "language_model": 0,
        "visual_multiway": 0,
    }
    for name, param in model.named_parameters():
        n = param.numel()
        counts["total"] += n
        # A leading dot lets a top-level name (no "model." prefix) match as well.
        if ".vision_model." in f".{name}":
            counts["vision_model"] += n
        elif ".visual_abstractor." in f".{name}":
            counts["visual_abstractor"] += n
        else:
            counts["language_model"] += n
        # The visual copies of the decoder's K/V and norms
        # (modality-adaptive), counted in the language model too.
        if ".multiway.1." in name:
            counts["visual_multiway"] += n
    return counts
