"""The fixture of CD-Reasoning's own evaluation code (tests/fixtures/original_eval, made by
scripts/make_original_eval_fixture.py under transformers 4.36.1): what `--original-prompt` must reproduce."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "original_eval"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
TOKENIZERS = tuple(EXPECTED["tokenizers"])  # llama_legacy, llama_nonlegacy, trimming
PAIRS = [tuple(pair) for pair in EXPECTED["pairs"]]  # square pair, landscape/portrait pair
IMAGES = FIXTURE / "images"


def checkpoint(tokenizer: str, into: Path) -> Path:
    """A checkpoint folder: the fixture's tiny model plus one of its tokenizers."""
    folder = into / f"ckpt_{tokenizer}"
    if not folder.exists():
        folder.mkdir(parents=True)
        for source in (FIXTURE / "model", FIXTURE / "tokenizers" / tokenizer):
            for file in source.iterdir():
                shutil.copy(file, folder / file.name)
    return folder


def pixels() -> dict:
    import numpy as np

    with np.load(FIXTURE / "pixels.npz") as data:
        return {name: data[name] for name in data.files}
