"""`cdreasoning init-model` — write a complete, randomly initialised checkpoint folder.

    cdreasoning init-model --preset tiny --out checkpoints/tiny
    cdreasoning init-model --preset owl2-7b --out checkpoints/owl2-7b-random --dtype bfloat16 \\
        --tokenizer /models/llama-2-7b        # optional: copy a real LLaMA-2 tokenizer in

The folder has the released layout (config.json, model.safetensors, tokenizer, preprocessor_config.json), so
everything that takes a `--model-path` accepts it.
"""

from __future__ import annotations

import argparse

from cdreasoning.errors import report_errors
from cdreasoning.runtime import resolve_dtype


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning init-model",
        description="Write a randomly initialised mPLUG-Owl2 checkpoint folder (config, weights, tokenizer, "
        "image preprocessor config).",
    )
    parser.add_argument(
        "--preset",
        required=True,
        choices=["tiny", "owl2-7b"],
        help="tiny: ~1.2 M parameters, 64-px images, trains on a CPU in minutes; "
        "owl2-7b: the real 8.2 B mPLUG-Owl2 / Q-Align sizes (33 GB in float32, 16 GB in bfloat16)",
    )
    parser.add_argument(
        "--out", required=True, help="output folder (created; must be empty unless --overwrite)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initialisation (default 0)")
    parser.add_argument(
        "--dtype", default="float32", help="weight dtype to write: float32, bfloat16 or float16"
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="folder with a LLaMA tokenizer (tokenizer.model + tokenizer_config.json) to copy in; "
        "default: build the project's small SentencePiece tokenizer",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output folder if it is not empty"
    )
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    import torch

    from cdreasoning.model.loading import load_pretrained
    from cdreasoning.model.presets import parameter_counts, write_checkpoint

    args = build_parser().parse_args(argv)
    dtype = resolve_dtype(args.dtype, torch.device("cpu"))
    out = write_checkpoint(
        args.preset,
        args.out,
        seed=args.seed,
        dtype=dtype,
        tokenizer_from=args.tokenizer,
        overwrite=args.overwrite,
    )
    if args.preset == "tiny":
        counts = parameter_counts(load_pretrained(out))  # proves the folder loads strictly
        print(f"wrote {out} ({counts['total']:,} parameters)")
    else:
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
