"""Benchmark training steps (forward + backward + optimizer) on CD samples: samples/s, tokens/s, peak memory, MFU.

    python scripts/bench_train.py                                         # tiny preset, full fine-tuning, CPU
    python scripts/bench_train.py --preset owl2-7b --mode lora --device cuda --dtype bfloat16 \\
        --batch-sizes 8,16,32 --gradient-checkpointing                      # the CD-Reasoning LoRA recipe

Each sample is the real v1-template score conversation (two images, answer supervised) with random pixels;
weights are random (built on the meta device and materialised on the target device). Modes: `full` (LLM +
abstractor train, vision frozen: the Q-Align recipe) and `lora` (r=128 on q_proj + v_proj.multiway.1). The
optimizer is AdamW over the trainable parameters. MFU = model FLOPs / (step time · peak), with model FLOPs
counted as 2·params·tokens forward and twice that backward for the activation gradients (plus the weight
gradients of trainable parameters), per tower with its own token count; recomputation under gradient
checkpointing is not counted (it is overhead). Peak: `--peak-tflops` (default 989 = H100 SXM dense bf16).
"""

from __future__ import annotations

import argparse
import resource
import time
from types import SimpleNamespace

import torch

from cdreasoning.constants import DEFAULT_SCORE_QUESTION, IGNORE_INDEX
from cdreasoning.model import MPLUGOwl2ForCausalLM
from cdreasoning.model.presets import preset_config
from cdreasoning.processing import build_tokenizer, get_template, load_tokenizer, tokenize_conversation
from cdreasoning.runtime import resolve_device, resolve_dtype
from cdreasoning.train.tuning import configure_tuning, trainable_parameter_summary


def build(preset, device, dtype, mode, checkpointing):
    config = preset_config(preset)
    with torch.device("meta"):
        model = MPLUGOwl2ForCausalLM(config)
    model = model.to_empty(device=device).to(dtype)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.02)
        for module in model.modules():
            if hasattr(module, "position_tables"):
                q, k = module.position_tables()
                module.q_pos_embed.copy_(q)
                module.k_pos_embed.copy_(k)
    if checkpointing:
        enable = getattr(model, "activation_checkpointing_enable", None)
        kwargs = {"use_reentrant": False}
        if enable is not None:
            enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    args = SimpleNamespace(
        lora_enable=mode == "lora",
        freeze_llm=False,
        tune_visual_abstractor=mode == "full",
        freeze_vision_model=True,
        lora_r=128,
        lora_alpha=256,
        lora_dropout=0.05,
        lora_target_modules=["q_proj", "v_proj.multiway.1"],
        lora_bias="none",
        bits=16,
        gradient_checkpointing=checkpointing,
    )
    model = configure_tuning(model, args)
    return model.train(), config


def flops_per_sample(model, config, text_tokens: int, images: int) -> float:
    """Model FLOPs of one training sample (see the module docstring)."""
    vision_tokens = config.vision.num_positions
    query_tokens = config.abstractor.num_learnable_queries
    llm_tokens = text_tokens + images * (config.image_tokens - 1)
    total = 0.0
    for name, param in model.named_parameters():
        n = param.numel()
        if "vision_model" in name:
            tokens = images * vision_tokens
        elif "visual_abstractor" in name:
            tokens = images * (query_tokens + vision_tokens)
        elif "embed_tokens" in name:
            continue  # a lookup, not a matmul
        else:
            tokens = llm_tokens
        total += 2 * n * tokens * (2 if "vision_model" not in name else 1)  # forward + activation grads
        if param.requires_grad:
            total += 2 * n * tokens  # weight gradients
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny", choices=["tiny", "owl2-7b"])
    parser.add_argument("--mode", default="full", choices=["full", "lora"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-sizes", default="8,16,32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    model, config = build(args.preset, device, dtype, args.mode, args.gradient_checkpointing)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    tokenizer = load_tokenizer(build_tokenizer("/tmp/cdreasoning-bench-tokenizer"))
    template = get_template("v1")
    sample = tokenize_conversation(
        tokenizer,
        template,
        [
            template.user_turn("<|image|><|image|>\n" + DEFAULT_SCORE_QUESTION),
            template.assistant_turn("The color difference between these two images is moderate."),
        ],
    )
    size = config.vision.image_size
    per_sample = flops_per_sample(model, config, len(sample.input_ids) - 2, 2)
    tokens = len(sample.input_ids) + 2 * (config.image_tokens - 1)
    print(
        f"preset={args.preset} mode={args.mode} device={device} dtype={dtype} "
        f"checkpointing={args.gradient_checkpointing} trainable={trainable_parameter_summary(model)['total']:,} "
        f"tokens/sample={tokens}"
    )
    print(f"{'batch':>5} {'samples/s':>10} {'tokens/s':>10} {'s/step':>8} {'peak GiB':>9} {'MFU':>7}")
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        input_ids = torch.tensor([sample.input_ids] * batch, device=device)
        labels = torch.tensor([sample.labels] * batch, device=device)
        labels[labels == -200] = IGNORE_INDEX
        pixels = torch.randn(2 * batch, 3, size, size, device=device, dtype=dtype)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for i in range(args.warmup + args.iters):
            if i == args.warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
            loss = model(input_ids=input_ids, pixel_values=pixels, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        step = (time.perf_counter() - start) / args.iters
        peak = (
            torch.cuda.max_memory_allocated(device)
            if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        ) / 2**30
        mfu = per_sample * batch / step / (args.peak_tflops * 1e12)
        # MFU against a GPU's peak is meaningless on a CPU: show "n/a" there.
        mfu_text = f"{mfu * 100:>6.1f}%" if device.type == "cuda" else f"{'n/a':>7}"
        print(
            f"{batch:>5} {batch / step:>10.2f} {batch * tokens / step:>10.0f} {step:>8.3f} {peak:>9.2f} {mfu_text}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
