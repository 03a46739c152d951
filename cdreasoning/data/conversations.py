"""Read and validate LLaVA-style conversation records (M-SPCD score task, depict task in training format).

A record is a JSON object

    {"id": "000000000001",
     "image": ["I0006_03_02.png", "I0006_05_01.png"],          # any length >= 0 (missing = no image)
     "conversations": [
         {"from": "human", "value": "<|image|><|image|>\\nHow would you ..."},
         {"from": "gpt", "value": "The color difference between these two images is slight."}],
     "gt_score": 8.216368578,                          # optional: SPCD ΔV of a score record
     "severities": {"white_balance": "slight", ...}}   # optional: depict ground truth (all 7 attributes)

    from cdreasoning.data import read_conversations
    records = read_conversations("train_mix.json")     # list[ConversationRecord], file order, nothing dropped

Turns alternate human / gpt, start with human and end with gpt (any number of rounds). Image placeholders are
`<|image|>` (mPLUG-Owl2) or its alias `<image>` (LLaVA, the published M-SPCD files); both count, the text is
kept verbatim (use `canonical_placeholders` to rewrite aliases). A record whose placeholder count differs from
its number of images would silently lose or misplace an image in training, so `read_conversations` raises a
DataError listing *every* such record (pass `allow_placeholder_mismatch=True` to get them back for inspection,
as `cdreasoning data check` does). Any structural problem raises DataError naming the file, the record's index
and id, and what is wrong. Unknown extra keys are kept in `ConversationRecord.extra` (and written back).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdreasoning.constants import (
    ANSWER_PREFIX,
    ATTRIBUTES,
    CD_LEVELS,
    DEFAULT_IMAGE_TOKEN,
    DEPICT_QUESTION,
    IMAGE_TOKEN_ALIASES,
    SEVERITIES,
)
from cdreasoning.data.jsonio import load_json_list
from cdreasoning.errors import DataError

ROLES = ("human", "gpt")
PLACEHOLDERS = (DEFAULT_IMAGE_TOKEN, *IMAGE_TOKEN_ALIASES)
# One alternation matching any spelling; the longest first so that `<|image|>` is never read as something
# else.
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True)))
_SCORE_ANSWER_RE = re.compile(
    r"^" + re.escape(ANSWER_PREFIX) + r"\s+(?P<level>[A-Za-z]+)\s*\.?\s*$", re.IGNORECASE
)
_KNOWN_KEYS = ("id", "image", "conversations", "gt_score", "severities")


def count_placeholders(text: str) -> dict[str, int]:
    """How often each placeholder spelling occurs in `text` (spellings that do not occur are left out)."""
    counts: dict[str, int] = {}
    for match in _PLACEHOLDER_RE.finditer(text):
        counts[match.group(0)] = counts.get(match.group(0), 0) + 1
    return counts


def canonical_placeholders(text: str) -> str:
    """`text` with every alias placeholder (`<image>`) rewritten as `<|image|>`."""
    return _PLACEHOLDER_RE.sub(DEFAULT_IMAGE_TOKEN, text)


def strip_placeholders(text: str) -> str:
    """`text` without placeholders and the whitespace around them (the bare question)."""
    return _PLACEHOLDER_RE.sub("", text).strip()


def score_answer_level(answer: str) -> str | None:
    """The level word of a score answer ("The color difference between these two images is X.") as written
    (case kept), or None when the answer does not have that form."""
    match = _SCORE_ANSWER_RE.match(answer.strip())
    return match["level"] if match else None


@dataclass(frozen=True)
class Turn:
    """One message: `role` is "human" or "gpt"."""

    role: str
    value: str


@dataclass(frozen=True, eq=True)
class ConversationRecord:
    """One validated conversation record. `index` is its 0-based position in `source` (for messages)."""

    id: str
    images: tuple[str, ...]
    turns: tuple[Turn, ...]
    gt_score: float | None = None
    severities: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        return f"{self.source}: record #{self.index} (id {self.id!r})"

    @property
    def placeholder_counts(self) -> dict[str, int]:
        """Placeholder spelling → occurrences over all turns."""
        total: dict[str, int] = {}
        for turn in self.turns:
            for spelling, count in count_placeholders(turn.value).items():
                total[spelling] = total.get(spelling, 0) + count
        return total

    @property
    def placeholder_count(self) -> int:
        return sum(self.placeholder_counts.values())

    @property
    def uses_alias_placeholders(self) -> bool:
        return any(spelling != DEFAULT_IMAGE_TOKEN for spelling in self.placeholder_counts)

    @property
    def placeholders_match(self) -> bool:
        return self.placeholder_count == len(self.images)

    @property
    def question(self) -> str:
        """The first human turn without its placeholders."""
        return strip_placeholders(self.turns[0].value)

    @property
    def answer(self) -> str:
        """The last gpt turn."""
        return self.turns[-1].value

    @property
    def level(self) -> str | None:
        """The level word of a score answer, as written (None for other answers)."""
        return score_answer_level(self.answer)

    @property
    def kind(self) -> str:
        """Record kind: "score" (the answer is the CD level sentence, or a gt_score is given), "depict"
        (severities given, or the question is the depict question) or "other"."""
        if self.gt_score is not None or self.answer.strip().lower().startswith(ANSWER_PREFIX.lower()):
            return "score"
        if self.severities is not None or self.question == DEPICT_QUESTION:
            return "depict"
        return "other"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready dict, keys in the published order (extras last)."""
        out: dict[str, Any] = {
            "id": self.id,
            "image": list(self.images),
            "conversations": [{"from": t.role, "value": t.value} for t in self.turns],
        }
        if self.gt_score is not None:
            out["gt_score"] = self.gt_score
        if self.severities is not None:
            out["severities"] = dict(self.severities)
        out.update(self.extra)
        return out

    def with_id(self, new_id: str) -> ConversationRecord:
        return ConversationRecord(
            new_id,
            self.images,
            self.turns,
            self.gt_score,
            self.severities,
            self.extra,
            self.index,
            self.source,
        )


def validate_severities(value: Any, where: str) -> dict[str, str]:
    """A severities dict: exactly the seven attributes, each "slight" / "moderate" / "severe"."""
    if not isinstance(value, dict):
        raise DataError(
            f"{where}: 'severities' must be an object attribute → severity, got {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(ATTRIBUTES))
    if unknown:
        raise DataError(
            f"{where}: unknown attribute(s) {unknown} in 'severities' (known: {', '.join(ATTRIBUTES)})"
        )
    missing = [a for a in ATTRIBUTES if a not in value]
    if missing:
        raise DataError(f"{where}: 'severities' lacks attribute(s) {missing}")
    for attribute in ATTRIBUTES:
        severity = value[attribute]
        if not isinstance(severity, str) or severity.strip().lower() not in SEVERITIES:
            raise DataError(
                f"{where}: severity {severity!r} of {attribute!r} is not one of {', '.join(SEVERITIES)}"
            )
    return {a: value[a].strip().lower() for a in ATTRIBUTES}


def validate_images(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DataError(f"{where}: 'image' must be a list of strings (image paths), got {value!r}")
    if any(not item.strip() for item in value):
        raise DataError(f"{where}: 'image' holds an empty image path: {value!r}")
    return tuple(value)


def _record_id(obj: dict[str, Any], key: str, where: str) -> str:
    if key not in obj:
        raise DataError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def describe_position(source: str, index: int, obj: Any, id_key: str = "id") -> str:
    """'FILE: record #I (id X)' for messages; the id part only when the record has one."""
    where = f"{source}: record #{index}"
    if isinstance(obj, dict) and isinstance(obj.get(id_key), (str, int)):
        where += f" (id {obj[id_key]!r})"
    return where


def parse_conversation_record(obj: Any, *, source: str = "<memory>", index: int = 0) -> ConversationRecord:
    """Validate one raw record (a dict from JSON).

    Raises DataError naming the source, the record's index and id, and the problem.
    """
    where = describe_position(source, index, obj)
    if not isinstance(obj, dict):
        raise DataError(f"{where}: a record must be a JSON object, got {type(obj).__name__}")
    record_id = _record_id(obj, "id", where)
    images = validate_images(obj["image"], where) if "image" in obj else ()
    if "conversations" not in obj:
        raise DataError(f"{where}: missing key 'conversations'")
    raw_turns = obj["conversations"]
    if not isinstance(raw_turns, list) or not raw_turns:
        raise DataError(f"{where}: 'conversations' must be a non-empty list of turns, got {raw_turns!r}")
    turns = []
    for turn_no, raw in enumerate(raw_turns):
        at = f"{where}, turn {turn_no}"
        if not isinstance(raw, dict):
            raise DataError(f"{at}: a turn must be an object with 'from' and 'value', got {raw!r}")
        for key in ("from", "value"):
            if key not in raw:
                raise DataError(f"{at}: missing key {key!r}")
        role, value = raw["from"], raw["value"]
        expected = ROLES[turn_no % 2]
        if role != expected:
            raise DataError(
                f"{at}: roles must alternate human/gpt starting with human; expected {expected!r}, "
                f"got {role!r}"
            )
        if not isinstance(value, str):
            raise DataError(f"{at}: 'value' must be a string, got {type(value).__name__}")
        if not value.strip():
            raise DataError(f"{at}: empty {role} value")
        turns.append(Turn(role, value))
    if turns[-1].role != "gpt":
        raise DataError(f"{where}: the conversation ends with a human turn (no answer to learn)")
    gt_score = None
    if "gt_score" in obj and obj["gt_score"] is not None:
        raw_score = obj["gt_score"]
        if isinstance(raw_score, bool) or not isinstance(raw_score, (int, float)):
            raise DataError(f"{where}: 'gt_score' must be a number, got {raw_score!r}")
        if not math.isfinite(raw_score):
            raise DataError(f"{where}: 'gt_score' must be finite, got {raw_score!r}")
        gt_score = float(raw_score) if isinstance(raw_score, int) else raw_score
    severities = validate_severities(obj["severities"], where) if "severities" in obj else None
    extra = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    return ConversationRecord(
        record_id, images, tuple(turns), gt_score, severities, extra, index, str(source)
    )


def parse_conversations(
    objs: list[Any], *, source: str = "<memory>", allow_placeholder_mismatch: bool = False
) -> list[ConversationRecord]:
    """Validate a list of raw records (see `read_conversations`)."""
    records = [parse_conversation_record(obj, source=source, index=i) for i, obj in enumerate(objs)]
    if not allow_placeholder_mismatch:
        bad = [r for r in records if not r.placeholders_match]
        if bad:
            lines = [
                f"  {r.where}: {r.placeholder_count} placeholder(s) {r.placeholder_counts or ''} for "
                f"{len(r.images)} image(s)"
                for r in bad[:50]
            ]
            more = f"\n  … and {len(bad) - 50} more" if len(bad) > 50 else ""
            raise DataError(
                f"{source}: {len(bad)} record(s) whose image placeholder count (<|image|> or <image>) "
                f"differs from their number of images:\n" + "\n".join(lines) + more
            )
    return records


def read_conversations(
    path: str | Path, *, allow_placeholder_mismatch: bool = False
) -> list[ConversationRecord]:
    """All records of a conversation JSON file, validated, in file order (nothing is dropped).

    Raises DataError on the first structurally malformed record, and — unless `allow_placeholder_mismatch` —
    listing every record whose placeholder count differs from its image count.
    """
    path = Path(path)
    return parse_conversations(
        load_json_list(path), source=str(path), allow_placeholder_mismatch=allow_placeholder_mismatch
    )


def known_level(word: str) -> bool:
    """True for the five CD level words, in any case (the published test_data.json capitalises them)."""
    return word.strip().lower() in CD_LEVELS
