"""Tokenizers: load a checkpoint's LLaMA tokenizer, or build the small one of the `tiny` preset.

`save_tokenizer(tokenizer, folder)` saves one so that it stays complete: transformers 5 writes only
`tokenizer.json`, so the SentencePiece `tokenizer.model` and its `legacy` flag, which prompt encoding reads
(`chunk_encoding`), are copied from the folder the tokenizer was loaded from.

`load_tokenizer(folder)` loads `tokenizer.model` (+ `tokenizer_config.json`) through transformers'
`AutoTokenizer` — the same code path for a released LLaMA-2 tokenizer and for ours — offline, with BOS on and
the pad token set to `<unk>` (id 0) when the checkpoint defines none, as the original training did.

`build_tokenizer(folder)` trains a byte-fallback BPE SentencePiece model on the project's own text — the
questions, answers, level words and attribute phrasings of the task — so every word the tiny model must produce
is a single token and any other text still encodes (byte fallback). It is built like LLaMA-2's tokenizer, so
that tests exercise what real checkpoints do: unk 0, bos 1, eos 2, no pad, `identity` normalisation (no NFKC),
whitespace kept as it is (no trimming or collapsing, so "\n" and double spaces survive), a dummy-prefix "▁"
before every encoded text, digits split, byte fallback. It is deterministic and takes well under a second.
`normalization="nmt_nfkc"` gives SentencePiece's default instead (NFKC, whitespace trimmed and collapsed), which
some tests use as a tokenizer *without* the leading-space quirk of LLaMA's.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from cdreasoning.constants import (
    ANSWER_TEMPLATE,
    ATTRIBUTE_LABELS,
    CD_LEVELS,
    DEPICT_QUESTION,
    SCORE_QUESTIONS,
    SEVERITIES,
)
from cdreasoning.processing.chunk_encoding import read_legacy_flag
from cdreasoning.processing.templates import VICUNA_SYSTEM
from cdreasoning.runtime import offline_hub

TOKENIZER_CONFIG = {
    "tokenizer_class": "LlamaTokenizer",
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    # LLaMA-2 defines no pad token; mPLUG-Owl2 / Q-Align pad with <unk> (id 0).
    "pad_token": "<unk>",
    # The behaviour the released checkpoints were tokenised with (see chunk_encoding).
    "legacy": True,
    "model_max_length": 2048,
    "padding_side": "right",
    "clean_up_tokenization_spaces": False,
}

_NOUNS = (
    "variations",
    "differences",
    "disparities",
    "distinctions",
    "discrepancies",
    "contrasts",
    "deviations",
    "changes",
    "shifts",
)


def tokenizer_corpus() -> list[str]:
    """Sentences the tiny tokenizer is trained on: everything the task says, in many combinations."""
    lines = [VICUNA_SYSTEM, DEPICT_QUESTION, "USER: ASSISTANT:", *SCORE_QUESTIONS]
    lines += [ANSWER_TEMPLATE.format(level=level) for level in CD_LEVELS]
    lines += [ANSWER_TEMPLATE.format(level=level.capitalize()) for level in CD_LEVELS]
    labels = list(ATTRIBUTE_LABELS.values()) + [
        "brightness contrast",
        "light details",
        "shadow details",
        "highlight details",
        "colour contrast",
        "overall colour",
    ]
    for i, label in enumerate(labels):
        for j, severity in enumerate(SEVERITIES):
            # Rotate the nouns over (label, severity) pairs so every noun meets many labels in few lines.
            noun = _NOUNS[(i + j) % len(_NOUNS)]
            lines.append(f"The two images exhibit {severity} {noun} in {label}.")
            lines.append(
                f"{label.capitalize()} show {severity} {noun}, while the {label} also differs {severity}ly."
            )
    lines.append(
        "The white balance, exposure, tone curve, saturation, hue, shadows and highlights of the second "
        "image differ from the first one; the camera, the lens and the scene are the same."
    )
    return lines * 8


def build_tokenizer(
    folder: str | Path,
    vocab_size: int = 1024,
    normalization: str = "identity",
    corpus: list[str] | None = None,
    legacy: bool = True,
    trim_whitespace: bool | None = None,
) -> Path:
    """Train the tiny tokenizer and save `tokenizer.model`, `tokenizer_config.json`, `special_tokens_map.json`.

    normalization: "identity" (LLaMA's: text kept as it is) or "nmt_nfkc" (SentencePiece's default, which also
    trims and collapses whitespace). corpus: training sentences (default `tokenizer_corpus()`). legacy: the
    `legacy` flag written to tokenizer_config.json (how transformers' slow LLaMA tokenizer treats text after
    special tokens; LLaMA-2 checkpoints trained with mPLUG-Owl2 / Q-Align used the legacy behaviour).
    trim_whitespace: remove leading/trailing and collapse repeated whitespace before encoding (default: only
    with "nmt_nfkc"); a trimming tokenizer has no leading-space quirk between image placeholders.
    """
    import sentencepiece as spm

    if normalization not in ("identity", "nmt_nfkc"):
        raise ValueError(f"normalization must be 'identity' or 'nmt_nfkc', got {normalization!r}")
    llama_like = normalization == "identity"
    if trim_whitespace is None:
        trim_whitespace = not llama_like
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus if corpus is not None else tokenizer_corpus()),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        # byte_fallback: a character outside the corpus still encodes (as <0xNN> byte pieces), as in LLaMA-2.
        byte_fallback=True,
        # LLaMA-2's special ids: unk 0, bos 1, eos 2, and no pad piece.
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        character_coverage=1.0,
        # Digits one by one, as LLaMA's tokenizer splits them.
        split_digits=True,
        normalization_rule_name=normalization,
        remove_extra_whitespaces=trim_whitespace,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=not trim_whitespace,
        num_threads=1,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    config = {**TOKENIZER_CONFIG, "legacy": legacy}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    return folder


def load_tokenizer(folder: str | Path, padding_side: str = "right", config=None):
    """The checkpoint's tokenizer (offline). Raises FileNotFoundError naming the folder if it has none.
    `config`: the checkpoint's config when the caller has it (`CheckpointFolder`), so config.json is not read
    again (AutoTokenizer reads it otherwise)."""
    offline_hub()
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder {folder} does not exist")
    if not any((folder / name).is_file() for name in ("tokenizer.model", "tokenizer.json")):
        raise FileNotFoundError(f"{folder}: no tokenizer.model or tokenizer.json")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, config=config)
    if tokenizer.bos_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError(f"{folder}: the tokenizer must define BOS and EOS tokens")
    # The original prompts start with BOS; a tokenizer_config.json
    # that turns it off would shift every position.
    if not getattr(tokenizer, "add_bos_token", True):
        tokenizer.add_bos_token = True
    # LLaMA-2 has no pad token: pad with <unk> (id 0), as the original training did.
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token
    # "right" for training batches; callers that generate ask for "left" so the last prompt token stays last.
    tokenizer.padding_side = padding_side
    return tokenizer


def save_tokenizer(tokenizer, folder: str | Path) -> Path:
    """`tokenizer.save_pretrained(folder)` plus the source folder's `tokenizer.model` and `legacy` flag."""
    folder = Path(folder)
    tokenizer.save_pretrained(str(folder))
    copy_sentencepiece_files(getattr(tokenizer, "name_or_path", ""), folder)
    return folder


def copy_sentencepiece_files(source: str | Path, folder: str | Path) -> None:
    """Copy `tokenizer.model` from `source` into `folder` (if `source` has one and they differ) and write its
    `legacy` flag into `folder`'s tokenizer_config.json, which transformers 5 drops when saving."""
    source, folder = Path(source), Path(folder)
    model = source / "tokenizer.model"
    if not str(source) or not model.is_file():
        return
    target = folder / "tokenizer.model"
    # samefile: saving into the folder it was loaded from must not copy the file onto itself.
    if not target.exists() or not target.samefile(model):
        shutil.copyfile(model, target)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    config["legacy"] = read_legacy_flag(source)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
