"""Options shared by `cdreasoning score`, `cdreasoning describe` and the evaluation scripts, and the loop that
runs a scorer over a pair list into a resumable result file with a progress bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator

from tqdm import tqdm

from cdreasoning.data.pair_lists import PairSpec
from cdreasoning.data.result_store import ResultLog
from cdreasoning.inference.levels import LevelScale


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model-path",
        required=True,
        help="checkpoint folder: mPLUG-Owl2 layout, or a transformers-native VLM (Qwen2.5-VL, Qwen3-VL, "
        "Idefics3, …; chosen by config.json's model_type)",
    )
    group.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N or mps")
    group.add_argument(
        "--dtype", default="auto", help="auto (bf16/fp16 on GPU, fp32 on CPU), float32, bfloat16 or float16"
    )
    group.add_argument(
        "--attention",
        default="auto",
        help="auto (flash-attn 2 on CUDA if installed, else SDPA), sdpa, eager, flash_attention_2",
    )
    group.add_argument(
        "--load-8bit", action="store_true", help="8-bit LLM weights via bitsandbytes (CUDA only)"
    )
    group.add_argument(
        "--load-4bit", action="store_true", help="4-bit NF4 LLM weights via bitsandbytes (CUDA only)"
    )
    group.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="HF Qwen-VL family: cap the pixels per image (fewer image tokens, less memory); "
        "default: the checkpoint's preprocessor_config.json",
    )
    prompt = parser.add_argument_group("prompt")
    prompt.add_argument(
        "--conv-template",
        default="v1",
        choices=["v1", "mplug_owl2"],
        help="conversation template the model was trained with: v1 (vicuna with system prompt; "
        "cdreasoning's training default) or mplug_owl2 (no system prompt; the originals' inference)",
    )
    prompt.add_argument(
        "--image-position",
        default="before",
        choices=["before", "after"],
        help="image placeholders before the question (M-SPCD / training format) or after it "
        "(the original evaluation prompt)",
    )
    prompt.add_argument("--question", default=None, help="the question asked (default: an M-SPCD phrasing)")
    levels = parser.add_argument_group("levels (scoring)")
    levels.add_argument(
        "--levels",
        default=None,
        help="comma-separated level words (default negligible,slight,moderate,significant,severe)",
    )
    levels.add_argument("--weights", default=None, help="comma-separated weights (default 0,1.25,2.5,3.75,5)")
    levels.add_argument(
        "--answer-prefix",
        default=None,
        help="answer text before the level word (default 'The color difference between these two images is')",
    )


def add_batch_arguments(parser: argparse.ArgumentParser, default_batch: int) -> None:
    group = parser.add_argument_group("batching")
    group.add_argument(
        "--batch-size", type=int, default=default_batch, help=f"pairs per forward (default {default_batch})"
    )
    group.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="DataLoader workers decoding images (default: 4 on CUDA, 0 on CPU)",
    )


def level_scale(args) -> LevelScale | None:
    if not (args.levels or args.weights or args.answer_prefix):
        return None
    base = LevelScale()
    words = tuple(w.strip() for w in args.levels.split(",")) if args.levels else base.words
    weights = tuple(float(w) for w in args.weights.split(",")) if args.weights else base.weights
    return LevelScale(words=words, weights=weights, answer_prefix=args.answer_prefix or base.answer_prefix)


def load_scorer(args):
    from cdreasoning.inference.scorer import CDScorer

    return CDScorer.from_pretrained(
        args.model_path,
        device=args.device,
        dtype=args.dtype,
        conv_template=args.conv_template,
        question=args.question,
        image_position=args.image_position,
        attention=args.attention,
        load_8bit=args.load_8bit,
        load_4bit=args.load_4bit,
        levels=level_scale(args),
        max_pixels=args.max_pixels,
    )


def workers(args, scorer) -> int:
    if args.num_workers is not None:
        return args.num_workers
    return 4 if scorer.device.type == "cuda" else 0


def run_over_pairs(
    pairs: list[PairSpec],
    log: ResultLog,
    results: Callable[[list[PairSpec]], Iterator[tuple]],
    to_row: Callable,
    description: str,
) -> int:
    """Give the pairs not yet done to `results` (which yields (position in that list, result, error)), write
    rows as they come; return the exit status (1 if any pair failed)."""
    todo = [p for p in pairs if not log.done(p.index)]
    skipped = len(pairs) - len(todo)
    if skipped:
        print(f"resuming: {skipped} of {len(pairs)} pairs already in {log.path}", file=sys.stderr)
    try:
        with tqdm(total=len(todo), desc=description, unit="pair", file=sys.stderr) as bar:
            for position, result, error in results(todo):
                pair = todo[position]
                log.write(pair, to_row(pair, result), error)
                bar.update(1)
    finally:
        log.finalize()
    failures = log.failures
    ok = len(pairs) - len(failures)
    print(f"{ok} of {len(pairs)} pairs done, {len(failures)} failed → {log.path}", file=sys.stderr)
    for row in failures[:20]:
        print(
            f"  failed pair {row['pair_index']} ({row['image_a']}, {row['image_b']}): {row['error']}",
            file=sys.stderr,
        )
    if len(failures) > 20:
        print(f"  … and {len(failures) - 20} more (see the error column)", file=sys.stderr)
    return 1 if failures else 0


def image_pairs(pairs: list[PairSpec]) -> list[tuple[str, str]]:
    return [(p.image_a, p.image_b) for p in pairs]
