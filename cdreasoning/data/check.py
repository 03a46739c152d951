"""Check a conversation / depict JSON file before training or evaluation (`cdreasoning data check`).

    from cdreasoning.data import check_dataset
    report = check_dataset("train_mix.json", image_folder="images")      # CheckReport
    print(report.format())                                               # summary + every problem
    report.ok                                                            # False when anything is wrong

Every record is examined (one bad record never hides the others). Problem kinds:

* `malformed-record`  — the record fails validation (missing key, wrong type, roles, empty value, …);
* `duplicate-id`      — an id (or question_id) used by an earlier record;
* `placeholder-mismatch` — number of `<|image|>` / `<image>` placeholders ≠ number of images;
* `unknown-level`     — a score answer ("The color difference … is X.") whose X is not a CD level word
                        (any case is accepted: the published test_data.json capitalises);
* `unrated-severity`  — a depict test record whose human answer (the ground truth of `eval describe`) does
                        not give each of the seven attributes a severity word (slight, moderate, severe)
                        that the severity parser reads; `eval describe` would stop on it;
* `missing-image`     — an image file that does not exist under the image folder;
* `unreadable-image`  — an image that PIL cannot verify and decode.

Notes (reported, not problems): records written with the `<image>` alias (accepted as a placeholder, never
dropped) and score records whose level word disagrees with the M-SPCD rule applied to their `gt_score`.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdreasoning.constants import ATTRIBUTES, CD_LEVELS, DEFAULT_IMAGE_TOKEN, SEVERITIES
from cdreasoning.data.conversations import (
    ConversationRecord,
    describe_position,
    known_level,
    parse_conversation_record,
)
from cdreasoning.data.depict_tests import DepictTestRecord, parse_depict_test_record
from cdreasoning.data.images import load_image
from cdreasoning.data.jsonio import load_json_list
from cdreasoning.errors import DataError, ImageError
from cdreasoning.scale import level_from_delta_v

PROBLEM_KINDS = (
    "malformed-record",
    "duplicate-id",
    "placeholder-mismatch",
    "unknown-level",
    "unrated-severity",
    "missing-image",
    "unreadable-image",
)


@dataclass(frozen=True)
class Problem:
    """One finding of `check_dataset`: its kind (PROBLEM_KINDS), the record's index and id, and what is wrong."""

    kind: str
    index: int
    record_id: str | None
    message: str

    def format(self) -> str:
        who = f"record #{self.index}" + (f" (id {self.record_id!r})" if self.record_id is not None else "")
        return f"[{self.kind}] {who}: {self.message}"


@dataclass
class CheckReport:
    """What `check_dataset` found in one file: counts (formats, task kinds, levels, severities, images) and
    the problems; `ok` is True when there are none."""

    path: str
    records: int = 0
    formats: Counter = field(default_factory=Counter)  # "conversation" / "depict-test"
    kinds: Counter = field(default_factory=Counter)  # "score" / "depict" / "other"
    levels: Counter = field(default_factory=Counter)  # lower-case level word → score records
    severities: dict[str, Counter] = field(default_factory=dict)  # attribute → severity counts
    image_refs: int = 0
    unique_images: int = 0
    images_checked: bool = False
    alias_records: int = 0
    level_rule_disagreements: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_counts(self) -> Counter:
        return Counter(p.kind for p in self.problems)

    def format(self, *, list_problems: bool = True) -> str:
        lines = [f"check {self.path}"]
        fmt = ", ".join(f"{k} {v}" for k, v in sorted(self.formats.items()))
        kinds = ", ".join(f"{k} {self.kinds.get(k, 0)}" for k in ("score", "depict", "other"))
        lines.append(f"  records: {self.records} ({kinds}; formats: {fmt or 'none'})")
        checked = "checked" if self.images_checked else "not checked (--no-images)"
        lines.append(f"  images: {self.image_refs} references, {self.unique_images} unique files, {checked}")
        if self.levels:
            lines.append(
                "  levels: "
                + ", ".join(f"{lv} {self.levels.get(lv, 0)}" for lv in CD_LEVELS)
                + "".join(f", {lv!r} {n}" for lv, n in self.levels.items() if lv not in CD_LEVELS)
            )
        for attribute, counts in self.severities.items():
            lines.append(f"  {attribute}: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in SEVERITIES))
        if self.alias_records:
            lines.append(
                f"  note: {self.alias_records} record(s) write images as <image> (accepted as an alias "
                f"of {DEFAULT_IMAGE_TOKEN}, nothing dropped)"
            )
        if self.level_rule_disagreements:
            lines.append(
                f"  note: {self.level_rule_disagreements} score record(s) whose level word differs from "
                f"the M-SPCD rule applied to gt_score (expected for test_data.json: other cut points)"
            )
        counts = self.problem_counts()
        summary = ", ".join(f"{k} {counts[k]}" for k in PROBLEM_KINDS if counts.get(k))
        lines.append(f"  problems: {len(self.problems)}" + (f" ({summary})" if summary else ""))
        if list_problems:
            lines += ["    " + p.format() for p in self.problems]
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def _parse_any(obj: Any, source: str, index: int) -> ConversationRecord | DepictTestRecord:
    if isinstance(obj, dict) and "question_id" in obj and "conversations" not in obj:
        return parse_depict_test_record(obj, source=source, index=index)
    return parse_conversation_record(obj, source=source, index=index)


def _raw_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        for key in ("id", "question_id"):
            if isinstance(obj.get(key), (str, int)):
                return str(obj[key])
    return None


def _unrated_attributes(answer: str) -> list[str]:
    """The attributes a ground-truth description does not rate (as `eval describe` parses it)."""
    from cdreasoning.data.severity_parser import parse_severities

    rated = parse_severities(answer)
    return [a for a in ATTRIBUTES if a not in rated]


def _verify_image(path: Path) -> str | None:
    """None when `path` verifies and decodes as training and evaluation will read it (`data.images`);
    otherwise what went wrong."""
    from PIL import Image

    try:
        # verify() checks what a plain decode skips (e.g. PNG chunk checksums)
        with Image.open(path) as image:
            image.verify()
    except Exception as error:  # noqa: BLE001 - PIL raises many types for corrupt files; all mean "unreadable"
        return f"{type(error).__name__}: {error}"
    try:
        load_image(path)
    except ImageError as error:
        return str(error).removeprefix(f"{path}: ")
    return None


def check_dataset(
    path: str | Path,
    image_folder: str | Path | None = None,
    *,
    check_images: bool = True,
    progress: bool = False,
    workers: int = 4,
) -> CheckReport:
    """Examine every record of `path` (see the module docstring). Images are looked up under `image_folder`
    (absolute image paths are used as they are). Raises DataError only when the file itself cannot be read or
    the image folder is missing; everything about records ends up in `report.problems`."""
    path = Path(path)
    raw = load_json_list(path)
    if not raw:
        raise DataError(f"{path}: no records (an empty list)", hint="is this the right file?")
    if check_images:
        if image_folder is None:
            raise DataError("check: --image-folder is required unless images are skipped with --no-images")
        image_folder = Path(image_folder)
        if not image_folder.is_dir():
            raise DataError(f"{image_folder}: image folder not found")
    report = CheckReport(str(path), records=len(raw), images_checked=check_images)
    seen_ids: dict[str, int] = {}
    uses: dict[str, list[tuple[int, str | None]]] = {}  # image path → records using it
    for index, obj in enumerate(raw):
        rid = _raw_id(obj)
        if rid is not None:
            if rid in seen_ids:
                report.problems.append(
                    Problem("duplicate-id", index, rid, f"id already used by record #{seen_ids[rid]}")
                )
            else:
                seen_ids[rid] = index
        try:
            record = _parse_any(obj, str(path), index)
        except DataError as error:
            message = str(error)
            for id_key in ("id", "question_id"):
                prefix = describe_position(str(path), index, obj, id_key=id_key)
                if message.startswith(prefix):
                    message = message[len(prefix) :].lstrip(":, ")
                    break
            report.problems.append(Problem("malformed-record", index, rid, message))
            continue
        for image in record.images:
            uses.setdefault(image, []).append((index, rid))
        report.image_refs += len(record.images)
        if record.severities is not None:
            for attribute in ATTRIBUTES:
                report.severities.setdefault(attribute, Counter())[record.severities[attribute]] += 1
        if isinstance(record, DepictTestRecord):
            report.formats["depict-test"] += 1
            report.kinds["depict"] += 1
            unrated = _unrated_attributes(record.human_answer)
            if unrated:
                report.problems.append(
                    Problem(
                        "unrated-severity",
                        index,
                        rid,
                        f"the human answer gives no readable severity (slight, moderate or severe) for "
                        f"{', '.join(unrated)}",
                    )
                )
            continue
        report.formats["conversation"] += 1
        report.kinds[record.kind] += 1
        if record.uses_alias_placeholders:
            report.alias_records += 1
        if not record.placeholders_match:
            spelled = ", ".join(f"{n}× {s}" for s, n in record.placeholder_counts.items()) or "none"
            report.problems.append(
                Problem(
                    "placeholder-mismatch",
                    index,
                    rid,
                    f"{record.placeholder_count} placeholder(s) ({spelled}) for "
                    f"{len(record.images)} image(s)",
                )
            )
        if record.kind == "score":
            level = record.level
            if level is None or not known_level(level):
                report.problems.append(
                    Problem(
                        "unknown-level",
                        index,
                        rid,
                        f"answer {record.answer!r} does not end in one of the level words "
                        f"{', '.join(CD_LEVELS)}",
                    )
                )
            else:
                report.levels[level.lower()] += 1
                if (
                    record.gt_score is not None
                    and record.gt_score > -1.2943
                    and level.lower() != level_from_delta_v(record.gt_score)
                ):
                    report.level_rule_disagreements += 1
    report.unique_images = len(uses)
    if check_images:
        _check_images(report, uses, Path(image_folder), progress=progress, workers=workers)
    report.problems.sort(key=lambda p: (p.index, PROBLEM_KINDS.index(p.kind)))
    return report


def _check_images(
    report: CheckReport,
    uses: dict[str, list[tuple[int, str | None]]],
    folder: Path,
    *,
    progress: bool,
    workers: int,
) -> None:
    names = list(uses)
    paths = [Path(name) if Path(name).is_absolute() else folder / name for name in names]

    def examine(p: Path) -> tuple[str, str] | None:
        if not p.is_file():
            return ("missing-image", f"image {str(p)!r} not found")
        error = _verify_image(p)
        return (
            None if error is None else ("unreadable-image", f"image {str(p)!r} cannot be decoded ({error})")
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(examine, paths)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(paths), desc="images", unit="img")
        for name, outcome in zip(names, results):
            if outcome is None:
                continue
            kind, message = outcome
            for index, rid in uses[name]:
                report.problems.append(Problem(kind, index, rid, message))
