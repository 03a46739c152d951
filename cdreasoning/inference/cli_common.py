"""Options shared by `cdreasoning score`, `cdreasoning describe` and the evaluation scripts, and the loop that
runs a scorer over a pair list into a resumable result file with a progress bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator

from tqdm import tqdm

from cdreasoning.data.pair_lists import PairSpec
from cdreasoning.data.result_store import ResultLog
from cdreasoning.errors import DataError, UsageError
from cdreasoning.inference.levels import LevelScale


def add_model_arguments(
    parser: argparse.ArgumentParser, describe: bool = False, model_path_required: bool = True
) -> None:
    """The model, prompt and level options. `describe`: the command asks `--describe-question`, so `--question`
    (the scoring question) is hidden there and refused by `reject_score_question`. `model_path_required`: False
    where the command has a default model (`cdreasoning demo`)."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model-path",
        required=model_path_required,
        help="checkpoint folder: mPLUG-Owl2 layout, or a transformers-native VLM (Qwen2.5-VL, Qwen3-VL, "
        "Qwen3.5, Idefics3, …; chosen by config.json's model_type)",
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
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: one per core that other processes leave free; runtime.choose_threads)",
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
        "--original-prompt",
        action="store_true",
        help="reproduce CD-Reasoning's own cd_score.py / cd_description.py token for token (their template, "
        "questions, image placement, level ids and image preprocessing; see docs/original_differences.md) "
        "instead of the training template",
    )
    prompt.add_argument(
        "--conv-template",
        default=None,
        choices=["v1", "mplug_owl2"],
        help="conversation template the model was trained with: v1 (vicuna with system prompt; "
        "cdreasoning's training default, used when not given) or mplug_owl2 (no system prompt)",
    )
    prompt.add_argument(
        "--image-position",
        default=None,
        choices=["before", "after"],
        help="image placeholders before the question (M-SPCD / training format; the default) or after it",
    )
    prompt.add_argument(
        "--question",
        default=None,
        help=argparse.SUPPRESS if describe else "the question asked (default: an M-SPCD phrasing)",
    )
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


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="discard an existing result file made by another model or settings (otherwise such a file is "
        "refused, naming the difference; a file made by the same ones is resumed)",
    )


def result_provenance(args, scorer, data: str, task: str, **settings) -> dict:
    """What produced a result file (see `cdreasoning.data.provenance`): model folder and weights, prompt,
    levels, dtype, data file and the task's own settings (question, generation)."""
    from cdreasoning.data.provenance import data_identity, weights_identity

    levels = scorer.levels
    return {
        "task": task,
        "model": weights_identity(args.model_path),
        # "bfloat16", not "torch.bfloat16": provenance is compared as plain JSON values when a run resumes.
        "dtype": str(scorer.dtype).removeprefix("torch."),
        "quantization": "8bit" if args.load_8bit else "4bit" if args.load_4bit else None,
        "conv_template": scorer.prompt.conv_template,
        "image_position": scorer.prompt.image_position,
        "original_prompt": bool(getattr(scorer.prompt, "original", False)),
        "levels": {
            "words": list(levels.words),
            "weights": list(levels.weights),
            "answer_prefix": levels.answer_prefix,
        },
        "data": data_identity(data),
        **settings,
    }


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


def check_default_data(data: str, default: str) -> None:
    """The evaluation scripts' default data (`playground/…`) is not shipped: say where it goes."""
    from pathlib import Path

    if data == default and not Path(default).is_file():
        raise DataError(
            f"{default}: not found (the default test data of the evaluation is not shipped with the code)",
            hint="put SPCD / M-SPCD as playground/README.md shows, or pass --data and --image-folder "
            "(e.g. the quickstart's synthetic set: bash scripts/quickstart.sh, then "
            "--data runs/quickstart/data/test.csv --image-folder runs/quickstart/data/images)",
        )


def reject_score_question(args) -> None:
    """`describe` commands: `--question` is the scoring question; say which option they mean."""
    if args.question is not None:
        raise UsageError(
            "--question sets the scoring question; describing asks --describe-question",
            hint=f"use --describe-question {args.question!r}",
        )


def level_scale(args) -> LevelScale | None:
    # None lets the scorer use its default scale (and --original-prompt its fixed one).
    if not (args.levels or args.weights or args.answer_prefix):
        return None
    base = LevelScale()
    words = tuple(w.strip() for w in args.levels.split(",")) if args.levels else base.words
    weights = tuple(float(w) for w in args.weights.split(",")) if args.weights else base.weights
    return LevelScale(words=words, weights=weights, answer_prefix=args.answer_prefix or base.answer_prefix)


# Options that --original-prompt fixes (it refuses them rather than ignoring them).
_FIXED_BY_ORIGINAL = ("conv_template", "image_position", "question", "levels", "weights", "answer_prefix")


def load_scorer(args):
    from cdreasoning.inference.scorer import CDScorer
    from cdreasoning.runtime import apply_threads

    original = getattr(args, "original_prompt", False)
    if original:
        given = [name for name in _FIXED_BY_ORIGINAL if getattr(args, name, None) is not None]
        if getattr(args, "describe_question", None) is not None:
            given.append("describe_question")
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise UsageError(
                f"--original-prompt fixes the prompt of the original scripts; drop {flags}",
                hint="--original-prompt alone reproduces CD-Reasoning's evaluation prompts",
            )
    apply_threads(getattr(args, "threads", None), prog="cdreasoning")  # before the model's first kernel
    return CDScorer.from_pretrained(
        args.model_path,
        device=args.device,
        dtype=args.dtype,
        conv_template=args.conv_template or "v1",
        question=args.question,
        image_position=args.image_position or "before",
        prompt="original" if original else "training",
        attention=args.attention,
        load_8bit=args.load_8bit,
        load_4bit=args.load_4bit,
        levels=level_scale(args),
        max_pixels=args.max_pixels,
    )


def max_new_tokens(args) -> int:
    """--max-new-tokens, or its default: 1024 with --original-prompt (as cd_description.py), else 256."""
    if args.max_new_tokens is not None:
        return args.max_new_tokens
    return 1024 if getattr(args, "original_prompt", False) else 256


def workers(args, scorer) -> int:
    if args.num_workers is not None:
        return args.num_workers
    # Workers overlap image decoding with GPU compute; on a CPU they would compete with the model for cores.
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
    # Resume: pairs with a successful row from an earlier, interrupted run are not run again.
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
        # Also after an interruption (Ctrl-C, an error): the
        # file is rewritten in pair order, one row per pair.
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
