"""Build depict-task records from per-attribute severities (`cdreasoning data build-describe`).

Input, either
  * a CSV with a header `image_a,image_b,white_balance,brightness_contrast,color_contrast,overall_brightness,
    overall_color,dark_details,bright_details` (columns in any order; every severity "slight" / "moderate" /
    "severe", any case), or
  * a JSON list of objects `{"image": [a, b], "severities": {attribute: severity, ...}}`.

    from cdreasoning.data import read_severity_table, build_describe_records
    items = read_severity_table("severities.csv")                     # list[SeverityItem]
    train = build_describe_records(items, seed=0, fmt="train")        # list[ConversationRecord]
    test = build_describe_records(items, seed=0, fmt="test")          # list[DepictTestRecord]

`train` records are conversations (human: one `<|image|>` per image + newline + the depict question; gpt: a
generated description); `test` records look like M-SPCD's `depict_align_test.json` (`question_id`, `image`,
`text`, `human_answer`). Both carry the ground-truth `severities`. Descriptions come from
`describe_severities` with one seeded stream per record, so output depends only on the input and the seed.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdreasoning.constants import ATTRIBUTES, DEPICT_QUESTION, SEVERITIES
from cdreasoning.data.conversations import (
    ConversationRecord,
    Turn,
    describe_position,
    validate_images,
    validate_severities,
)
from cdreasoning.data.depict_tests import DepictTestRecord
from cdreasoning.data.descriptions import describe_severities
from cdreasoning.data.jsonio import load_json_list
from cdreasoning.data.score_task import record_id, two_image_prompt
from cdreasoning.data.seeding import text_rng
from cdreasoning.errors import DataError

FORMATS = ("train", "test")
CSV_COLUMNS = ("image_a", "image_b", *ATTRIBUTES)


@dataclass(frozen=True)
class SeverityItem:
    """The images of one pair and the severity of each attribute."""

    images: tuple[str, ...]
    severities: dict[str, str]


def _read_severity_csv(path: Path) -> list[SeverityItem]:
    items: list[SeverityItem] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file (expected a header {','.join(CSV_COLUMNS)})")
        header = [h.strip() for h in header]
        unknown = [h for h in header if h not in CSV_COLUMNS]
        if unknown:
            raise DataError(f"{path}:1: unknown column(s) {unknown}; attributes are {', '.join(ATTRIBUTES)}")
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {missing} (expected {','.join(CSV_COLUMNS)})")
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            raise DataError(f"{path}:1: column(s) {duplicated} appear more than once")
        for line_no, row in enumerate(reader, start=2):
            where = f"{path}:{line_no}"
            if len(row) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields, got {len(row)}: {row!r}")
            values = {h: v.strip() for h, v in zip(header, row)}
            if not values["image_a"] or not values["image_b"]:
                raise DataError(f"{where}: empty image name in {row!r}")
            severities = {}
            for attribute in ATTRIBUTES:
                word = values[attribute].lower()
                if word not in SEVERITIES:
                    raise DataError(
                        f"{where}: severity {values[attribute]!r} of {attribute!r} is not one of "
                        f"{', '.join(SEVERITIES)}"
                    )
                severities[attribute] = word
            items.append(SeverityItem((values["image_a"], values["image_b"]), severities))
    if not items:
        raise DataError(f"{path}: no rows after the header")
    return items


def _read_severity_json(path: Path) -> list[SeverityItem]:
    items = []
    for index, obj in enumerate(load_json_list(path)):
        where = describe_position(str(path), index, obj)
        if not isinstance(obj, dict):
            raise DataError(
                f"{where}: expected an object with 'image' and 'severities', got {type(obj).__name__}"
            )
        for key in ("image", "severities"):
            if key not in obj:
                raise DataError(f"{where}: missing key {key!r}")
        images = validate_images(obj["image"], where)
        if not images:
            raise DataError(f"{where}: 'image' is empty (a description compares images)")
        items.append(SeverityItem(images, validate_severities(obj["severities"], where)))
    if not items:
        raise DataError(f"{path}: no records")
    return items


def read_severity_table(path: str | Path) -> list[SeverityItem]:
    """Pairs and severities from a `.csv` or `.json` file (see the module docstring), validated."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: severities file not found")
    if path.suffix.lower() == ".json":
        return _read_severity_json(path)
    if path.suffix.lower() == ".csv":
        return _read_severity_csv(path)
    raise DataError(f"{path}: unknown severities format {path.suffix!r} (use .csv or .json)")


def build_describe_records(
    items: Sequence[SeverityItem], *, seed: int = 0, fmt: str = "train", first_id: int = 1
) -> list[ConversationRecord] | list[DepictTestRecord]:
    """One depict record per item, in order (ids 12-digit running numbers from `first_id`)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    records: list = []
    for offset, item in enumerate(items):
        number = first_id + offset
        description = describe_severities(item.severities, text_rng(seed, "describe", number))
        if fmt == "train":
            turns = (
                Turn("human", two_image_prompt(DEPICT_QUESTION, len(item.images))),
                Turn("gpt", description),
            )
            records.append(
                ConversationRecord(
                    record_id(number), item.images, turns, None, dict(item.severities), {}, offset
                )
            )
        else:
            records.append(
                DepictTestRecord(
                    record_id(number),
                    item.images,
                    DEPICT_QUESTION,
                    description,
                    dict(item.severities),
                    {},
                    offset,
                )
            )
    return records
