"""The prompts of CD-Reasoning's own evaluation scripts, token for token (`--original-prompt`).

Users bring the released CD-Reasoning / OneAlign checkpoints and ask whether they get the paper's numbers. Those
came from `cdreasoning/evaluate/cd_score.py` and `cd_description.py` of LongYu-LY/CD-Reasoning, whose prompts
differ from the training template this project prompts with by default (docs/original_differences.md lists
every difference). This module rebuilds them exactly:

- scoring (`cd_score.py`): template `mplug_owl2` (no system prompt), user text = the question + "\\n" + ONE
  `<|image|>` that holds *both* images (2 × k visual tokens in one block), and the answer prefix appended to
  the prompt with no space:
      "USER: How would you rate the color difference of these two images?\\n<|image|> ASSISTANT:The color
      difference between these two images is"
  The level ids are those of each word encoded alone, `tokenizer(word)["input_ids"][1]`, and the score is
  Σ softmax(level logits) · 5 · (0, 0.25, 0.5, 0.75, 1) (`wa5`). Images are padded to squares.
- descriptions (`cd_description.py`): template `mplug_owl2`, user text = the script's fixed question (not the
  test record's) + "\\n<|image|><|image|>", generation from "… ASSISTANT:". Images are centre-cropped.
- tokenisation: the prompt is split on `<|image|>` and every chunk is encoded by the legacy slow LLaMA
  tokenizer, each with its dummy prefix (`chunk_encoding`), BOS only at the start (`tokenize_prompt`).

`original_prompts(tokenizer)` returns the ids; `for_model(ids, images_per_placeholder)` turns the one
two-image placeholder into two adjacent ones, which our model fills with the same 2 × k features in the same
order and positions as the original's single block.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdreasoning.constants import ANSWER_PREFIX, CD_LEVELS, DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
from cdreasoning.processing.chunk_encoding import chunk_encoder
from cdreasoning.processing.prompt_tokens import tokenize_prompt
from cdreasoning.processing.templates import get_template

# cd_score.py's `inp`.
ORIGINAL_SCORE_QUESTION = "How would you rate the color difference of these two images?"
# cd_description.py's `qs` (the one line not commented out).
ORIGINAL_DESCRIBE_QUESTION = (
    "Please provide an in-depth analysis of the color differentiation between the two images across various "
    "aspects: white balance, brightness/contrast, color contrast, overall brightness, overall color, dark "
    "details, and bright details. Evaluate the severity of each dimension as slight, moderate, or severe, "
    "while maintaining the original meaning."
)
ORIGINAL_TEMPLATE = "mplug_owl2"
# wa5: 5 · (0, 0.25, 0.5, 0.75, 1) over negligible … severe.
ORIGINAL_LEVEL_WEIGHTS = tuple(5 * w for w in (0.0, 0.25, 0.5, 0.75, 1.0))
# Image preprocessing of each script (ImageProcessor.aspect_ratio).
ORIGINAL_SCORE_ASPECT_RATIO = "pad"
ORIGINAL_DESCRIBE_ASPECT_RATIO = "crop"
# cd_description.py generates up to this many tokens.
ORIGINAL_MAX_NEW_TOKENS = 1024


def original_score_text() -> str:
    """cd_score.py's prompt string (one placeholder for both images, answer prefix without a space)."""
    template = get_template(ORIGINAL_TEMPLATE)
    user = template.user_turn(f"{ORIGINAL_SCORE_QUESTION}\n{DEFAULT_IMAGE_TOKEN}")
    # Appended with no space after "ASSISTANT:", as cd_score.py concatenates it (so its ids differ from ours).
    return template.render_prompt([user]) + ANSWER_PREFIX


def original_describe_text() -> str:
    """cd_description.py's prompt string (two placeholders after the fixed question)."""
    template = get_template(ORIGINAL_TEMPLATE)
    user = template.user_turn(f"{ORIGINAL_DESCRIBE_QUESTION}\n{DEFAULT_IMAGE_TOKEN}{DEFAULT_IMAGE_TOKEN}")
    return template.render_prompt([user])


def original_level_ids(tokenizer, words: tuple[str, ...] = CD_LEVELS) -> list[int]:
    """`tokenizer(word)["input_ids"][1]` of each word, as cd_score.py reads the level logits: the first token
    of the word encoded on its own (with the dummy prefix), whatever the prompt's last token is."""
    encoder = chunk_encoder(tokenizer)
    ids = []
    for word in words:
        # The word alone, with its own dummy prefix "▁": cd_score.py's reading, not the in-context one we use.
        encoded = encoder.encode(word) if encoder is not None else _without_bos(tokenizer, word)
        if not encoded:
            raise ValueError(f"the level word {word!r} encodes to no token")
        # Our [0] is cd_score.py's [1]: these encoders return no BOS.
        ids.append(encoded[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"level words {words} share first tokens {ids}; they cannot be told apart")
    return ids


def _without_bos(tokenizer, text: str) -> list[int]:
    ids = list(tokenizer(text)["input_ids"])
    return ids[1:] if ids and ids[0] == tokenizer.bos_token_id else ids


@dataclass(frozen=True)
class OriginalPrompts:
    """Token ids exactly as the original scripts build them (IMAGE_TOKEN_INDEX for each placeholder)."""

    score_ids: list[int]  # one placeholder for both images
    level_ids: list[int]  # negligible, slight, moderate, significant, severe
    describe_ids: list[int]  # one placeholder per image
    score_images_per_placeholder: int = 2

    def score_model_ids(self) -> list[int]:
        return for_model(self.score_ids, self.score_images_per_placeholder)


def original_prompts(tokenizer) -> OriginalPrompts:
    return OriginalPrompts(
        score_ids=tokenize_prompt(tokenizer, original_score_text()),
        level_ids=original_level_ids(tokenizer),
        describe_ids=tokenize_prompt(tokenizer, original_describe_text()),
    )


def for_model(ids: list[int], images_per_placeholder: int) -> list[int]:
    """Repeat every IMAGE_TOKEN_INDEX `images_per_placeholder` times: our model takes one sentinel per image,
    and adjacent sentinels give the same visual block (same features, order and positions) as the original's
    one placeholder holding several images."""
    if images_per_placeholder < 1:
        raise ValueError("images_per_placeholder must be ≥ 1")
    out = []
    for token in ids:
        # Adjacent sentinels: merge_images lays the two images' tokens out back to back, as one block.
        out.extend([token] * images_per_placeholder if token == IMAGE_TOKEN_INDEX else [token])
    return out
