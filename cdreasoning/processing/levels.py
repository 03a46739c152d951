"""Text-defined levels, the Q-Align way: the score is an expectation over the next-token distribution.

After the prompt "… ASSISTANT: The color difference between these two images is", the model's next-token logits
are read at the first sub-token of each level word (as it is tokenised right there, after a space), a softmax over
those five logits gives the level probabilities, and

    score = Σ_i p_i · w_i,   w = [0, 1.25, 2.5, 3.75, 5]   (negligible … severe)

which lives on SPCD's grade scale G (0–5), so ΔV = 1.6036·exp(0.5391·score) − 1.2943 (see `cdreasoning.scale`).
Words, weights and the answer prefix are configurable, e.g. Q-Align's quality levels:

    LevelScale(words=("excellent", "good", "fair", "poor", "bad"), weights=(5, 4, 3, 2, 1),
               answer_prefix="The quality of the image is")
"""

from __future__ import annotations

from dataclasses import dataclass

from cdreasoning.constants import ANSWER_PREFIX, CD_LEVELS, LEVEL_WEIGHTS


@dataclass(frozen=True)
class LevelScale:
    """The text-defined levels a score is read from: level words, their weights (score = Σ p_i · w_i) and the
    answer prefix after which the model names a level."""

    words: tuple[str, ...] = CD_LEVELS
    weights: tuple[float, ...] = LEVEL_WEIGHTS
    answer_prefix: str = ANSWER_PREFIX

    def __post_init__(self):
        if len(self.words) != len(self.weights) or len(self.words) < 2:
            raise ValueError(f"need ≥ 2 level words with one weight each; got {self.words} / {self.weights}")
        if len(set(self.words)) != len(self.words):
            raise ValueError(f"level words must be distinct: {self.words}")


def level_token_ids(
    tokenizer, prompt_ids: list[int], prompt_text: str, scale: LevelScale, encode
) -> list[int]:
    """Token id of each level word's first sub-token *in context*: where it follows `prompt_text` after a space.

    `encode(text) -> ids` must be the same function that produced `prompt_ids` from `prompt_text`. Raises if a
    word does not extend the prompt's tokens cleanly or two words share their first sub-token.
    """
    ids = []
    for word in scale.words:
        # Why in context: SentencePiece spells a word differently at the start of a text and after a space
        # ("▁slight" vs "slight"), and merges across the boundary; the model predicts the token that follows
        # the prompt, so the id must be the one the prompt + " word" actually produces at that position.
        # Why the first sub-token: the score reads ONE next-token distribution, so a word is identified by the
        # first piece it starts with (hence the check below that no two words share it).
        full = encode(prompt_text + " " + word)
        # The prompt's own ids must be a prefix: otherwise the word merged with the prompt's last token(s).
        if full[: len(prompt_ids)] != prompt_ids or len(full) == len(prompt_ids):
            raise ValueError(
                f"the level word {word!r} does not tokenise as a continuation of the prompt "
                f"(prompt ends {prompt_text[-40:]!r}); choose another answer prefix or word"
            )
        ids.append(full[len(prompt_ids)])
    if len(set(ids)) != len(ids):
        shared = {w: tokenizer.convert_ids_to_tokens(i) for w, i in zip(scale.words, ids)}
        raise ValueError(f"level words share first sub-tokens, so they cannot be told apart: {shared}")
    return ids
