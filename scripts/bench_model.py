"""Benchmark the model's forward pass on image pairs: pairs/s, tokens/s and peak memory.

    python scripts/bench_model.py                         # tiny preset on the CPU, batch 1 / 8 / 32
    python scripts/bench_model.py --preset owl2-7b --device cuda --dtype bfloat16   # random 8.2 B weights
    python scripts/bench_model.py --model-path CKPT --device cuda --dtype bfloat16  # any backbone's checkpoint
    python scripts/bench_model.py --model-path /models/Qwen2.5-VL-7B-Instruct --image-size 448 --max-pixels 200704
    python scripts/bench_model.py --preset qwen2_5_vl-7b --device cuda --dtype bfloat16   # random 8.29 B weights

A "pair" is one CD sample: the scoring prompt of the v1 template with two images (2 × 65 visual tokens for the
7B preset). Weights are random (built on the meta device and materialised in place for the 7B preset); inputs
are random pixels. Each configuration runs `--warmup` untimed and `--iters` timed forwards under
`torch.inference_mode()`, keeping only the last position's logits as scoring does.

With `--model-path` the checkpoint's backbone (mPLUG-Owl2 or an HF VLM, from config.json) is loaded and timed on
its own scoring prompt with random `--image-size` images; for HF VLMs the processor runs once per batch size
before timing (its cost is not in pairs/s) and tokens/pair counts the expanded image tokens.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from cdreasoning.constants import ANSWER_PREFIX, DEFAULT_SCORE_QUESTION
from cdreasoning.model import MPLUGOwl2ForCausalLM
from cdreasoning.model.presets import preset_config
from cdreasoning.processing import build_tokenizer, get_template, load_tokenizer, tokenize_prompt
from cdreasoning.runtime import resolve_attention, resolve_device, resolve_dtype


def build_model(preset: str, device, dtype, attention: str) -> MPLUGOwl2ForCausalLM:
    config = preset_config(preset)
    with torch.device("meta"):
        model = MPLUGOwl2ForCausalLM(config)
    model = model.to_empty(device=device).to(dtype)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.02)
        for module in model.modules():  # the abstractor's fixed position tables
            if hasattr(module, "position_tables"):
                q, k = module.position_tables()
                module.q_pos_embed.copy_(q)
                module.k_pos_embed.copy_(k)
    model.set_attention_implementation(attention)
    return model.eval()


def peak_memory_gib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS (KiB → GiB)


def bench_checkpoint(args) -> int:
    """pairs/s of any backbone's checkpoint (see the module docstring)."""
    import numpy as np

    from cdreasoning.backbones import load_backbone

    if args.preset == "qwen2_5_vl-7b":  # random weights of the real sizes, built on the device
        from cdreasoning.backbones.tiny_presets import qwen2_5_vl_7b

        device = resolve_device(args.device)
        backbone = qwen2_5_vl_7b(device, resolve_dtype(args.dtype, device))
        if args.max_pixels:
            backbone = type(backbone)(
                backbone.model, backbone.processor, "qwen2_5_vl", max_pixels=args.max_pixels
            )
    else:
        backbone = load_backbone(
            args.model_path,
            device=args.device,
            dtype=args.dtype,
            attention=args.attention,
            max_pixels=args.max_pixels,
        )
    device = backbone.device
    prompt = backbone.prompt("<|image|><|image|>\n" + DEFAULT_SCORE_QUESTION, "v1", ANSWER_PREFIX)
    rng = np.random.default_rng(0)
    print(
        f"model={args.model_path or args.preset} backbone={backbone.kind}/{backbone.model_type} device={device} dtype={backbone.dtype}"
    )
    print(f"{'batch':>5} {'pairs/s':>10} {'tokens/pair':>11} {'ms/batch':>10} {'peak GiB':>9}")
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        side = args.image_size
        pairs = [
            backbone.load_pair(*(rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(2)))
            for _ in range(batch)
        ]
        inputs = backbone.collate(pairs)
        if backbone.kind == "hf_vlm":
            prepared = backbone.batch_inputs(prompt, inputs)
            tokens = int(prepared["attention_mask"].sum()) / batch

            def forward(prepared=prepared):
                return backbone.model(**prepared, logits_to_keep=1, use_cache=False)
        else:
            tokens = len(prompt.ids) + 2 * (backbone.model.config.image_tokens - 1)

            def forward(inputs=inputs):
                return backbone.answer_logits(prompt, inputs)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            for _ in range(args.warmup):
                forward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(args.iters):
                forward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = (time.perf_counter() - start) / args.iters
        print(
            f"{batch:>5} {batch / elapsed:>10.1f} {tokens:>11.0f} {elapsed * 1000:>10.1f} {peak_memory_gib(device):>9.2f}"
        )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset",
        default="tiny",
        choices=["tiny", "owl2-7b", "qwen2_5_vl-7b"],
        help="random weights: tiny / owl2-7b (mPLUG-Owl2) or qwen2_5_vl-7b (Qwen2.5-VL-7B sizes, 8.29 B)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--attention", default="auto")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument(
        "--model-path", default=None, help="time this checkpoint (any backbone) instead of --preset"
    )
    parser.add_argument("--image-size", type=int, default=448, help="--model-path: side of the random images")
    parser.add_argument(
        "--max-pixels", type=int, default=None, help="--model-path, Qwen-VL: pixels per image cap"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model_path or args.preset == "qwen2_5_vl-7b":
        return bench_checkpoint(args)

    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    attention = resolve_attention(args.attention, device)
    model = build_model(args.preset, device, dtype, attention)
    tokenizer = load_tokenizer(build_tokenizer("/tmp/cdreasoning-bench-tokenizer"))
    template = get_template("v1")
    prompt = template.render_prompt(
        [template.user_turn("<|image|><|image|>\n" + DEFAULT_SCORE_QUESTION)], ANSWER_PREFIX
    )
    ids = tokenize_prompt(tokenizer, prompt)
    size = model.config.vision.image_size
    tokens_per_pair = len(ids) + 2 * (model.config.image_tokens - 1)
    print(
        f"preset={args.preset} device={device} dtype={dtype} attention={attention} threads={torch.get_num_threads()} "
        f"tokens/pair={tokens_per_pair}"
    )
    print(f"{'batch':>5} {'pairs/s':>10} {'tokens/s':>11} {'ms/batch':>10} {'peak GiB':>9}")
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        input_ids = torch.tensor([ids] * batch, device=device)
        pixels = torch.randn(2 * batch, 3, size, size, device=device, dtype=dtype)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            for _ in range(args.warmup):
                model(input_ids=input_ids, pixel_values=pixels, logits_to_keep=1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(args.iters):
                model(input_ids=input_ids, pixel_values=pixels, logits_to_keep=1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = (time.perf_counter() - start) / args.iters
        print(
            f"{batch:>5} {batch / elapsed:>10.1f} {batch * tokens_per_pair / elapsed:>11.0f} "
            f"{elapsed * 1000:>10.1f} {peak_memory_gib(device):>9.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
