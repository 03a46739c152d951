"""Build M-SPCD score-task conversations from SPCD pairs (`cdreasoning data build-score`).

    from cdreasoning.data import read_spcd_csv, dedupe_pairs, build_score_records
    pairs, removed = dedupe_pairs(read_spcd_csv("train.csv"))       # 28,025 rows → 21,020, removed = 7,005
    records = build_score_records(pairs, seed=0)                       # list[ConversationRecord]

Each pair becomes the record the published M-SPCD files use: `id` = 12-digit running number from 000000000001,
`image` = [image_a, image_b] in CSV order, a human turn `"<|image|><|image|>\\n" + question` with the question
drawn (seeded) among the 20 M-SPCD phrasings, the gpt answer "The color difference between these two images is
{level}." with the lower-case level of `cdreasoning.scale.level_from_delta_v` (the exact M-SPCD labelling
rule) and `gt_score` = the SPCD ΔV. The same pairs and seed always give the same records.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdreasoning.constants import ANSWER_TEMPLATE, DEFAULT_IMAGE_TOKEN, SCORE_QUESTIONS
from cdreasoning.data.conversations import ConversationRecord, Turn
from cdreasoning.data.seeding import pick, text_rng
from cdreasoning.data.spcd import SpcdPair
from cdreasoning.scale import level_from_delta_v


def record_id(number: int) -> str:
    """The M-SPCD id of the `number`-th record (1-based): 12 digits, zero-padded."""
    return f"{number:012d}"


def two_image_prompt(question: str, n_images: int = 2) -> str:
    """The human turn: one `<|image|>` per image, a newline, the question (as M-SPCD writes it)."""
    return DEFAULT_IMAGE_TOKEN * n_images + "\n" + question


def score_answer(delta_v: float) -> str:
    """The gpt answer for a pair of human difference ΔV."""
    return ANSWER_TEMPLATE.format(level=level_from_delta_v(delta_v))


def dedupe_pairs(pairs: Sequence[SpcdPair]) -> tuple[list[SpcdPair], int]:
    """Drop rows identical to an earlier row (same image_a, image_b and ΔV; the first is kept, order kept).

    SPCD's train split lists each phone-vs-phone pair twice (28,025 rows, 21,020 unique). Returns the kept
    pairs and how many rows were removed. Pairs that repeat with a *different* ΔV are kept (they are not
    duplicates).
    """
    seen: set[tuple[str, str, float]] = set()
    kept: list[SpcdPair] = []
    for pair in pairs:
        key = (pair.image_a, pair.image_b, pair.delta_v)
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept, len(pairs) - len(kept)


def build_score_records(
    pairs: Sequence[SpcdPair], *, seed: int = 0, first_id: int = 1, source: str = ""
) -> list[ConversationRecord]:
    """One score conversation per pair, in order; questions drawn from `seed` (see module docstring)."""
    rng = text_rng(seed, "score-questions")
    records = []
    for offset, pair in enumerate(pairs):
        question = pick(rng, SCORE_QUESTIONS)
        turns = (Turn("human", two_image_prompt(question)), Turn("gpt", score_answer(pair.delta_v)))
        records.append(
            ConversationRecord(
                record_id(first_id + offset),
                (pair.image_a, pair.image_b),
                turns,
                pair.delta_v,
                None,
                {},
                offset,
                source,
            )
        )
    return records
