"""`cdreasoning init-model` — write a complete, randomly initialised checkpoint folder of any backbone.

    cdreasoning init-model --preset tiny --out checkpoints/tiny                    # mPLUG-Owl2 (model.init_cli)
    cdreasoning init-model --preset tiny-qwen2_5_vl --out checkpoints/tiny-qwen2_5_vl
    cdreasoning init-model --preset tiny-qwen3_vl --out checkpoints/tiny-qwen3_vl
    cdreasoning init-model --preset tiny-qwen3_5 --out checkpoints/tiny-qwen3_5
    cdreasoning init-model --preset tiny-idefics3 --out checkpoints/tiny-idefics3

The `tiny-<family>` presets are transformers-native VLMs (`cdreasoning.backbones.tiny_presets`): the family's real
architecture at a few hundred thousand parameters, with a small tokenizer carrying the family's chat template and
image tokens; everything that takes a `--model-path` accepts the folder. The mPLUG-Owl2 presets (`tiny`,
`owl2-7b`) are handled by `cdreasoning.model.init_cli`, whose options apply.
"""

from __future__ import annotations

import argparse

from cdreasoning.backbones.tiny_presets import HF_PRESETS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning init-model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        required=True,
        help=f"tiny | owl2-7b (mPLUG-Owl2) | {' | '.join(HF_PRESETS)} (transformers-native VLMs)",
    )
    parser.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initialisation (default 0)")
    parser.add_argument("--dtype", default="float32", help="weight dtype: float32, bfloat16 or float16")
    parser.add_argument("--overwrite", action="store_true", help="replace the output folder if not empty")
    parser.add_argument(
        "--tokenizer", default=None, help="mPLUG-Owl2 presets: a LLaMA tokenizer folder to copy in"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    known, _ = build_parser().parse_known_args(argv) if "--preset" in argv else (None, None)
    if known is None or known.preset not in HF_PRESETS:
        from cdreasoning.model.init_cli import main as owl2_main

        if any(a in ("-h", "--help") for a in argv):
            build_parser().print_help()
            print("\nmPLUG-Owl2 presets:")
        return owl2_main(argv)
    args = build_parser().parse_args(argv)
    import torch

    from cdreasoning.backbones.hf_vlm import load_hf_backbone
    from cdreasoning.backbones.tiny_presets import write_hf_preset
    from cdreasoning.runtime import resolve_dtype

    dtype = resolve_dtype(args.dtype, torch.device("cpu"))
    out = write_hf_preset(args.preset, args.out, seed=args.seed, dtype=dtype, overwrite=args.overwrite)
    model = load_hf_backbone(out, device="cpu", dtype="float32").model  # proves the folder loads
    print(f"wrote {out} ({sum(p.numel() for p in model.parameters()):,} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
