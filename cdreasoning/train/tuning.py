"""Which parameters train: full fine-tuning of any subset of vision / abstractor / LLM, or LoRA (+ QLoRA).

    model = configure_tuning(model, args)      # returns the model (a peft.PeftModel under LoRA)
    trainable_parameter_summary(model)         # {"vision_model": …, "visual_abstractor": …, "llm": …, "lora": …}

See `cdreasoning.train.arguments` for the meaning of each flag. Under LoRA, parts that should also train (the
abstractor with `--tune_visual_abstractor`, the vision tower without `--freeze_vision_model`) are peft
`modules_to_save`: trained copies saved inside the adapter, so the adapter folder holds every trained weight.
"""

from __future__ import annotations

import torch


def _part(name: str) -> str:
    # Checked first: a LoRA weight's name also contains the name of the part it adapts.
    if "lora_" in name:
        return "lora"
    if "vision_model" in name:
        return "vision_model"
    if "visual_abstractor" in name:
        return "visual_abstractor"
    return "llm"


def trainable_parameter_summary(model: torch.nn.Module) -> dict[str, int]:
    counts = {"vision_model": 0, "visual_abstractor": 0, "llm": 0, "lora": 0}
    for name, param in model.named_parameters():
        if param.requires_grad:
            counts[_part(name)] += getattr(param, "ds_numel", param.numel())  # ZeRO-3 partitions tensors
    counts["total"] = sum(counts.values())
    return counts


def configure_tuning(model, args):
    """Set requires_grad for full fine-tuning or wrap the model with LoRA adapters; returns the model to train."""
    core = model.model
    if not args.lora_enable:
        # Everything first (embeddings, decoder, LM head), then the two visual parts set by their own flags.
        model.requires_grad_(not args.freeze_llm)
        core.visual_abstractor.requires_grad_(args.tune_visual_abstractor)
        core.vision_model.requires_grad_(not args.freeze_vision_model)
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("nothing to train: the LLM, the abstractor and the vision tower are all frozen")
        return model

    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise RuntimeError("LoRA needs peft: pip install 'cdreasoning[train]'") from exc
    # Freeze everything; peft then makes the adapters and the modules_to_save copies trainable.
    model.requires_grad_(False)
    if args.bits in (4, 8):
        from peft import prepare_model_for_kbit_training

        # QLoRA: peft's recipe casts the non-quantised weights to float32 and makes inputs require grad.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
    modules_to_save = []
    if args.tune_visual_abstractor:
        modules_to_save.append("visual_abstractor")
    if not args.freeze_vision_model:
        modules_to_save.append("vision_model")
    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        # Suffix matching: "v_proj.multiway.1" hits only the visual V projection (CD-Reasoning's choice).
        target_modules=list(args.lora_target_modules),
        bias=args.lora_bias,
        modules_to_save=modules_to_save or None,
    )
    peft_model = get_peft_model(model, config)
    if not any(name for name, _ in peft_model.named_modules() if name.endswith("lora_A")):
        raise ValueError(f"no module matches --lora_target_modules {args.lora_target_modules}")
    return peft_model
