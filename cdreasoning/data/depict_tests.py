"""Read M-SPCD depict-task *test* records (the format of `depict_align_test.json`).

    {"question_id": "000000000001", "image": ["I0674_04_01.png", "I0674_06_01.png"],
     "text": "<the depict question>", "human_answer": "The two images exhibit slight variations in ...",
     "severities": {...}}              # optional ground truth (written by `build-describe` / `synth`)

    from cdreasoning.data import read_depict_tests
    records = read_depict_tests("depict_align_test.json")     # list[DepictTestRecord]

The question text carries no image placeholder (the evaluator inserts one per image), so no placeholder check
is made here. `to_conversation()` turns a record into a training conversation (placeholders prepended). A
malformed record raises DataError naming the file, the record's index and question_id, and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdreasoning.constants import DEFAULT_IMAGE_TOKEN
from cdreasoning.data.conversations import (
    ConversationRecord,
    Turn,
    describe_position,
    validate_images,
    validate_severities,
)
from cdreasoning.data.jsonio import load_json_list
from cdreasoning.errors import DataError

_KNOWN_KEYS = ("question_id", "image", "text", "human_answer", "severities")


@dataclass(frozen=True)
class DepictTestRecord:
    """One depict test question with its reference answer. `index` is the 0-based position in `source`."""

    question_id: str
    images: tuple[str, ...]
    text: str
    human_answer: str
    severities: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question_id": self.question_id,
            "image": list(self.images),
            "text": self.text,
            "human_answer": self.human_answer,
        }
        if self.severities is not None:
            out["severities"] = dict(self.severities)
        out.update(self.extra)
        return out

    def to_conversation(self) -> ConversationRecord:
        """The same pair as a training conversation: one placeholder per image, then the question."""
        prompt = DEFAULT_IMAGE_TOKEN * len(self.images) + "\n" + self.text
        return ConversationRecord(
            self.question_id,
            self.images,
            (Turn("human", prompt), Turn("gpt", self.human_answer)),
            None,
            self.severities,
            {},
            self.index,
            self.source,
        )


def parse_depict_test_record(obj: Any, *, source: str = "<memory>", index: int = 0) -> DepictTestRecord:
    where = describe_position(source, index, obj, id_key="question_id")
    if not isinstance(obj, dict):
        raise DataError(f"{where}: a record must be a JSON object, got {type(obj).__name__}")
    for key in ("question_id", "image", "text", "human_answer"):
        if key not in obj:
            raise DataError(f"{where}: missing key {key!r}")
    question_id = obj["question_id"]
    if not isinstance(question_id, str) or not question_id.strip():
        raise DataError(f"{where}: 'question_id' must be a non-empty string, got {question_id!r}")
    images = validate_images(obj["image"], where)
    for key in ("text", "human_answer"):
        if not isinstance(obj[key], str):
            raise DataError(f"{where}: {key!r} must be a string, got {type(obj[key]).__name__}")
        if not obj[key].strip():
            raise DataError(f"{where}: empty {key!r}")
    severities = validate_severities(obj["severities"], where) if "severities" in obj else None
    extra = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    return DepictTestRecord(
        question_id, images, obj["text"], obj["human_answer"], severities, extra, index, str(source)
    )


def read_depict_tests(path: str | Path) -> list[DepictTestRecord]:
    """All records of a depict test file, validated, in file order."""
    path = Path(path)
    return [
        parse_depict_test_record(obj, source=str(path), index=i) for i, obj in enumerate(load_json_list(path))
    ]
