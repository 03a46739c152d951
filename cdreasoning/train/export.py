"""`cdreasoning export --merge-lora ADAPTER_DIR --out DIR` — a standalone checkpoint from a LoRA run.

The adapter folder (a LoRA run's `--output_dir` or one of its `checkpoint-*`) is applied to its base model (the
`base_model_name_or_path` recorded in `adapter_config.json`, or `--base`), the adapters are merged into the
weights (modules trained as full copies replace the originals), and the result is written in the released
mPLUG-Owl2 layout with the tokenizer and image preprocessor config, so `load_pretrained`, AutoModel, every
cdreasoning command and the original code load it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from cdreasoning.errors import report_errors


def merge_lora(
    adapter_dir: str | Path, out_dir: str | Path, base: str | Path | None = None, dtype: str = "float32"
):
    import torch
    from peft import PeftModel

    from cdreasoning.model.loading import load_pretrained
    from cdreasoning.processing import ImageProcessor, load_tokenizer, save_tokenizer

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{adapter_dir}: no adapter_config.json (is this a LoRA run's output folder?)"
        )
    # peft records the base's path at training time; --base overrides it when that folder has moved.
    base = Path(base or json.loads(config_file.read_text()).get("base_model_name_or_path") or "")
    if not base.is_dir():
        raise FileNotFoundError(f"base model {base} not found; pass --base")
    from cdreasoning.backbones import detect_backbone

    if detect_backbone(base) == "hf_vlm":
        from cdreasoning.train.hf_training import merge_hf_lora

        return merge_hf_lora(adapter_dir, out_dir, base, dtype)
    # Merged on the CPU in the requested dtype: no GPU needed, and the result is written in that dtype.
    model = load_pretrained(base, device="cpu", dtype=dtype)
    # merge_and_unload folds B·A·(alpha / r) into each target weight and swaps the modules_to_save copies in.
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    if any("lora_" in name for name, _ in merged.named_parameters()):
        raise RuntimeError("merge left LoRA parameters behind")  # pragma: no cover - peft invariant
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.to(getattr(torch, dtype) if isinstance(dtype, str) and hasattr(torch, dtype) else merged.dtype)
    merged.save_pretrained(out_dir)
    # The run's own tokenizer files (the Trainer saves them) win over the base's.
    tokenizer_source = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base
    save_tokenizer(load_tokenizer(tokenizer_source), out_dir)
    processor_source = adapter_dir if (adapter_dir / "preprocessor_config.json").is_file() else base
    ImageProcessor.from_pretrained(
        processor_source, default_size=merged.config.vision.image_size
    ).save_pretrained(out_dir)
    if (base / "generation_config.json").is_file():
        shutil.copy(base / "generation_config.json", out_dir / "generation_config.json")
    return out_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--merge-lora",
        required=True,
        metavar="ADAPTER_DIR",
        help="a LoRA run's output folder (or one of its checkpoint-* folders)",
    )
    parser.add_argument("--out", required=True, help="folder for the standalone checkpoint")
    parser.add_argument("--base", default=None, help="base checkpoint (default: from adapter_config.json)")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="dtype of the written weights (merging itself runs in this dtype on the CPU)",
    )
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = merge_lora(args.merge_lora, args.out, args.base, args.dtype)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
