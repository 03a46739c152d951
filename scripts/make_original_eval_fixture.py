"""Regenerate tests/fixtures/original_eval/: what CD-Reasoning's own evaluation code builds, for `--original-prompt`.

    .venv/bin/python scripts/make_original_eval_fixture.py --orig-python /work/venv-orig/bin/python \\
        --orig-src /work/orig-src

The expected values come from the ORIGINAL code, not from ours, in three stages:

1. build (this project's venv): a tiny random mPLUG-Owl2 checkpoint (`model/`, 32 px images, 5 visual tokens per
   image), three tokenizers of the same vocabulary size (`tokenizers/`: `llama_legacy` — LLaMA-like
   SentencePiece, identity normalisation, whitespace kept, `legacy: true`; `llama_nonlegacy` — the same model
   with `legacy: false`; `trimming` — a SentencePiece model that trims and collapses whitespace, so it has no
   leading-space quirk), and four small PNGs (a square pair, a landscape/portrait pair).
2. reference (`--orig-python`, a venv with transformers==4.36.1, sentencepiece, torch, pillow): for every
   tokenizer, the slow tokenizer (`AutoTokenizer.from_pretrained(folder, use_fast=False)`, as
   `load_pretrained_model` loads it) and `CLIPImageProcessor.from_pretrained(folder)` run the prompt, level-id,
   image and `tokenizer_image_token` lines of `cd_score.py` / `cd_description.py`, taken verbatim from the
   originals; for training, Q-Align's `preprocess_multimodal` rule (restated below: all placeholders moved to the
   front, one kept) and `preprocess_v1`'s `conv_vicuna_v1.get_prompt()` + `tokenizer_image_token`. `--orig-src`
   is a folder with a package `orig` holding those excerpts, copied from LongYu-LY/CD-Reasoning (commit 972761b)
   and not part of this repository: `constants.py` (IMAGE_TOKEN_INDEX = -200, DEFAULT_IMAGE_TOKEN = "<|image|>"),
   `conversation.py` (Conversation with get_prompt/append_message/copy, conv_templates "v1" and "mplug_owl2"),
   `mm_utils.py` (expand2square, tokenizer_image_token) and `eval_scripts.py` — the scripts' lines wrapped as
   `cd_score_prompt_and_ids(tokenizer)`, `cd_score_images(processor, files)`,
   `cd_description_prompt_and_ids(tokenizer)`, `cd_description_images(processor, files)` and
   `cd_description_text(tokenizer, output_ids, prompt_length)`.
3. model (this venv): the ORIGINAL ids and pixels go straight into our model (no prompt code of ours): the score
   is `wa5` over the logits at the original level ids, and the greedy description is a plain argmax loop over
   full forward passes (no KV cache), decoded in stage 4 by the original's `batch_decode(...).strip()`.

Outputs: `expected.json` (prompts, ids, level ids, scores, generated ids and texts per tokenizer and pair),
`pixels.npz` (the original pixel tensors per pair and task), `pairs.csv` and `depict.json` (the pairs for the
CLIs). The whole folder stays well under 1 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "original_eval"
# name → (keeps whitespace as LLaMA does, legacy flag)
TOKENIZERS = {"llama_legacy": (True, True), "llama_nonlegacy": (True, False), "trimming": (False, True)}
PAIRS = [("square_a.png", "square_b.png"), ("wide_a.png", "tall_b.png")]
VOCAB = 1024
MAX_NEW_TOKENS = 24
TRAIN_QUESTION = "How do you perceive the color difference between these two images?"
TRAIN_ANSWER = "The color difference between these two images is moderate."
HUMAN_ANSWER = (
    "The two images exhibit slight differences in white balance, moderate differences in brightness/contrast, "
    "slight differences in color contrast, severe differences in overall brightness, slight differences in "
    "overall color, moderate differences in dark details and slight differences in bright details."
)
# A second round: after its `</s>`, legacy and non-legacy tokenizers differ.
TRAIN_FOLLOW_UP = ("Which image is warmer?", "The second one, slightly.")


# -- stage 1 --------------------------------------------------------------------------------------------------
def build(out: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from cdreasoning.model.configuration import MPLUGOwl2Config
    from cdreasoning.model.modeling import MPLUGOwl2ForCausalLM
    from cdreasoning.processing.images import ImageProcessor
    from cdreasoning.processing.original_prompt import ORIGINAL_DESCRIBE_QUESTION, ORIGINAL_SCORE_QUESTION
    from cdreasoning.processing.tokenizer_files import build_tokenizer, tokenizer_corpus

    if out.exists():
        shutil.rmtree(out)
    corpus = tokenizer_corpus() + [ORIGINAL_SCORE_QUESTION, ORIGINAL_DESCRIBE_QUESTION] * 8
    for name, (keep_whitespace, legacy) in TOKENIZERS.items():
        folder = out / "tokenizers" / name
        build_tokenizer(folder, VOCAB, corpus=corpus, legacy=legacy, trim_whitespace=not keep_whitespace)

    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    vision.update(image_size=32, patch_size=8)
    abstractor = dict(num_learnable_queries=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2)
    abstractor.update(intermediate_size=64, encoder_hidden_size=32, grid_size=4)
    config = MPLUGOwl2Config(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        pad_token_id=0,
        initializer_range=0.2,
        visual_config={"visual_model": vision, "visual_abstractor": abstractor},
    )
    config.architectures = ["MPLUGOwl2LlamaForCausalLM"]
    torch.manual_seed(0)
    model = MPLUGOwl2ForCausalLM(config)
    model.save_pretrained(out / "model")
    ImageProcessor(size=32).save_pretrained(out / "model")

    rng = np.random.default_rng(0)
    images = out / "images"
    images.mkdir(parents=True)
    sizes = {
        "square_a.png": (48, 48),
        "square_b.png": (48, 48),
        "wide_a.png": (64, 40),
        "tall_b.png": (40, 60),
    }
    for name, (width, height) in sizes.items():
        y, x = np.mgrid[0:height, 0:width] / max(width, height)
        base = rng.uniform(40, 215, 3)
        slope = rng.uniform(-120, 120, (2, 3))
        array = (
            base + x[..., None] * slope[0] + y[..., None] * slope[1] + rng.normal(0, 6, (height, width, 3))
        )
        Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(images / name)
    rows = [f"{a},{b},{1.5 + i}" for i, (a, b) in enumerate(PAIRS)]
    (out / "pairs.csv").write_text("\n".join(rows) + "\n")
    records = [
        {"question_id": f"{i:04d}", "image": [a, b], "text": "Describe them.", "human_answer": HUMAN_ANSWER}
        for i, (a, b) in enumerate(PAIRS)
    ]
    (out / "depict.json").write_text(json.dumps(records, indent=1) + "\n")


def checkpoint_view(fixture: Path, tokenizer: str, into: Path) -> Path:
    """A checkpoint folder: the fixture's model files plus one tokenizer (what tests and stages load)."""
    into.mkdir(parents=True, exist_ok=True)
    for source in (fixture / "model", fixture / "tokenizers" / tokenizer):
        for file in source.iterdir():
            shutil.copy(file, into / file.name)
    return into


# -- stage 2 (runs under the original's transformers 4.36) ---------------------------------------------------
def reference(fixture: Path, work: Path, orig_src: Path) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(orig_src))
    import numpy as np
    from orig import eval_scripts
    from orig.constants import DEFAULT_IMAGE_TOKEN
    from orig.conversation import conv_templates
    from orig.mm_utils import tokenizer_image_token
    from transformers import AutoTokenizer, CLIPImageProcessor

    result, pixels = {}, {}
    for name in TOKENIZERS:
        folder = checkpoint_view(fixture, name, work / name)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=False)
        processor = CLIPImageProcessor.from_pretrained(str(folder))
        score_prompt, score_ids, toks, level_ids = eval_scripts.cd_score_prompt_and_ids(tokenizer)
        describe_prompt, describe_ids = eval_scripts.cd_description_prompt_and_ids(tokenizer)
        # Q-Align training: preprocess_multimodal moves the placeholders to the front and keeps ONE, then
        # preprocess_v1 tokenises conv_vicuna_v1's prompt with tokenizer_image_token.
        value = f"{DEFAULT_IMAGE_TOKEN}{DEFAULT_IMAGE_TOKEN}\n{TRAIN_QUESTION}"
        value = DEFAULT_IMAGE_TOKEN + "\n" + value.replace(DEFAULT_IMAGE_TOKEN, "").strip()
        conv = conv_templates["v1"].copy()
        conv.append_message(conv.roles[0], value.strip())
        conv.append_message(conv.roles[1], TRAIN_ANSWER)
        train_text = conv.get_prompt()
        conv.append_message(conv.roles[0], TRAIN_FOLLOW_UP[0])
        conv.append_message(conv.roles[1], TRAIN_FOLLOW_UP[1])
        train_two_rounds = conv.get_prompt()
        result[name] = {
            "legacy": bool(tokenizer.legacy),
            "score_prompt": score_prompt,
            "score_ids": score_ids[0].tolist(),
            "level_words": toks[:5],
            "level_ids": level_ids[:5],
            "describe_prompt": describe_prompt,
            "describe_ids": describe_ids[0].tolist(),
            "train_text": train_text,
            "train_ids": tokenizer_image_token(train_text, tokenizer),
            "train_two_rounds_text": train_two_rounds,
            "train_two_rounds_ids": tokenizer_image_token(train_two_rounds, tokenizer),
            "pieces_of_assistant_chunk": tokenizer.convert_ids_to_tokens(tokenizer(" ASSISTANT:").input_ids),
        }
    for index, (a, b) in enumerate(PAIRS):
        files = [str(fixture / "images" / a), str(fixture / "images" / b)]
        pixels[f"score_{index}"] = eval_scripts.cd_score_images(processor, files).numpy()
        pixels[f"describe_{index}"] = eval_scripts.cd_description_images(processor, files).numpy()
    np.savez_compressed(fixture / "pixels.npz", **pixels)
    return result


def decode(fixture: Path, work: Path, orig_src: Path, expected: dict) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(orig_src))
    import torch
    from orig import eval_scripts
    from transformers import AutoTokenizer

    for name, entry in expected["tokenizers"].items():
        tokenizer = AutoTokenizer.from_pretrained(str(work / name), use_fast=False)
        prompt_length = len(entry["describe_ids"])
        texts = []
        for generated in entry["generated_ids"]:
            output_ids = torch.tensor([entry["describe_ids"] + generated])
            texts.append(eval_scripts.cd_description_text(tokenizer, output_ids, prompt_length))
        entry["texts"] = texts
    return expected


# -- stage 3 (this venv; the original ids and pixels into our model) ----------------------------------------
def model_outputs(fixture: Path, work: Path, reference_ids: dict) -> dict:
    import numpy as np
    import torch

    from cdreasoning.model import load_pretrained
    from cdreasoning.processing.original_prompt import for_model

    pixels = np.load(fixture / "pixels.npz")
    for name, entry in reference_ids.items():
        folder = checkpoint_view(fixture, name, work / f"ours_{name}")
        model = load_pretrained(folder, device="cpu", dtype=torch.float32).eval()
        eos = 2
        scores, probabilities, generated = [], [], []
        for index in range(len(PAIRS)):
            # cd_score.py: model(input_ids, images=[image_tensor]) — one placeholder, both images (2 sentinels here)
            ids = torch.tensor([for_model(entry["score_ids"], 2)])
            with torch.no_grad():
                logits = model(input_ids=ids, pixel_values=torch.from_numpy(pixels[f"score_{index}"])).logits[
                    0, -1
                ]
            level_logits = logits[entry["level_ids"]].double().numpy()
            p = np.exp(level_logits) / np.exp(level_logits).sum()
            probabilities.append(p.tolist())
            scores.append(float(np.inner(p, np.array([0.0, 0.25, 0.5, 0.75, 1])) * 5))
            # cd_description.py: greedy, one token at a time, stop at </s>
            ids = list(entry["describe_ids"])
            out = []
            for _ in range(MAX_NEW_TOKENS):
                with torch.no_grad():
                    step = model(
                        input_ids=torch.tensor([ids + out]),
                        pixel_values=torch.from_numpy(pixels[f"describe_{index}"]),
                    ).logits[0, -1]
                token = int(step.argmax())
                out.append(token)
                if token == eos:
                    break
            generated.append(out)
        entry.update(scores=scores, probabilities=probabilities, generated_ids=generated)
    return reference_ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orig-python", default="/work/venv-orig/bin/python", help="python with transformers 4.36"
    )
    parser.add_argument(
        "--orig-src", default="/work/orig-src", help="folder holding the `orig` excerpts package"
    )
    parser.add_argument("--out", default=str(FIXTURE), help=f"fixture folder (default {FIXTURE})")
    parser.add_argument(
        "--stage", choices=["all", "reference", "decode"], default="all", help=argparse.SUPPRESS
    )
    parser.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.stage == "reference":
        Path(args.work, "reference.json").write_text(
            json.dumps(reference(out, Path(args.work), Path(args.orig_src)))
        )
        return 0
    if args.stage == "decode":
        expected = json.loads((out / "expected.json").read_text())
        expected = decode(out, Path(args.work), Path(args.orig_src), expected)
        (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
        return 0

    build(out)
    with tempfile.TemporaryDirectory() as work:
        stage = [args.orig_python, __file__, "--out", str(out), "--orig-src", args.orig_src, "--work", work]
        subprocess.run([*stage, "--stage", "reference"], check=True)
        reference_ids = json.loads(Path(work, "reference.json").read_text())
        tokenizers = model_outputs(out, Path(work), reference_ids)
        expected = {
            "generated_by": "scripts/make_original_eval_fixture.py (original code under transformers 4.36.1)",
            "pairs": [list(p) for p in PAIRS],
            "max_new_tokens": MAX_NEW_TOKENS,
            "train_question": TRAIN_QUESTION,
            "train_answer": TRAIN_ANSWER,
            "train_follow_up": list(TRAIN_FOLLOW_UP),
            "tokenizers": tokenizers,
        }
        (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
        subprocess.run([*stage, "--stage", "decode"], check=True)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
