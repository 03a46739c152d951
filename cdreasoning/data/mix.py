"""Merge conversation files (score + depict) into one shuffled training file (`cdreasoning data mix`).

    from cdreasoning.data import mix_conversation_files
    result = mix_conversation_files(["score_train.json", "depict_train.json"], seed=0)
    result.records          # list[ConversationRecord], shuffled, ids "score_train-000000000001", ...
    result.counts           # {"score_train": 21020, "depict_train": 5000}

Every input is read with `read_conversations` (fully validated; a placeholder/image mismatch is an error), no
record is dropped, ids are prefixed by their source's label (the file stem, made unique when two inputs share
a stem) and a record whose prefixed id would still collide gets a `-2`, `-3`, … suffix (counted in `renamed`).
The shuffle is a seeded Fisher–Yates over Python's version-stable `random()`, so the same inputs and seed give
a byte-identical file.

`repeat` weights the sources: with `repeat=[3, 1]` every record of the first file is taken three times (ids
`…-copy2`, `…-copy3` for the extra copies), so one epoch shows the first task three times as often. The
quickstart's full stage uses it to keep the score task dominant while the model learns to describe too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cdreasoning.data.conversations import ConversationRecord, parse_conversations
from cdreasoning.data.jsonio import load_json_list
from cdreasoning.data.seeding import shuffle, text_rng
from cdreasoning.errors import DataError


@dataclass
class MixResult:
    """The merged, shuffled records of `mix_conversation_files`, with per-source counts for the summary line."""

    records: list[ConversationRecord]
    counts: dict[str, int] = field(default_factory=dict)  # source label → records taken from it
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # source label → {"score": n, ...}
    renamed: int = 0  # ids that needed a suffix to stay unique


def _labels(paths: Sequence[Path]) -> list[str]:
    labels: list[str] = []
    for path in paths:
        label, k = path.stem, 2
        while label in labels:
            label, k = f"{path.stem}_{k}", k + 1
        labels.append(label)
    return labels


def mix_records(
    sources: dict[str, list[ConversationRecord]], *, seed: int = 0, repeat: dict[str, int] | None = None
) -> MixResult:
    """Merge already-read records (label → records) with prefixed unique ids, then shuffle (seeded).
    `repeat` (label → copies, default 1) takes a source's records that many times."""
    repeat = repeat or {}
    merged: list[ConversationRecord] = []
    used: set[str] = set()
    result = MixResult([], {}, {}, 0)
    for label, records in sources.items():
        copies = repeat.get(label, 1)
        if copies < 1:
            raise DataError(f"mix: repeat for '{label}' must be ≥ 1, got {copies}")
        result.counts[label] = len(records) * copies
        kinds: dict[str, int] = {}
        for copy in range(1, copies + 1):
            tail = "" if copy == 1 else f"-copy{copy}"
            for record in records:
                kinds[record.kind] = kinds.get(record.kind, 0) + 1
                new_id, k = f"{label}-{record.id}{tail}", 2
                while new_id in used:
                    new_id, k = f"{label}-{record.id}{tail}-{k}", k + 1
                if k > 2:
                    result.renamed += 1
                used.add(new_id)
                merged.append(record.with_id(new_id))
        result.kinds[label] = kinds
    shuffle(text_rng(seed, "mix"), merged)
    result.records = merged
    return result


def mix_conversation_files(
    paths: Sequence[str | Path], *, seed: int = 0, repeat: Sequence[int] | None = None
) -> MixResult:
    """Read, merge and shuffle conversation files (see the module docstring); `repeat`: copies per file."""
    if not paths:
        raise DataError("mix: no input files given")
    paths = [Path(p) for p in paths]
    if repeat is not None and len(repeat) != len(paths):
        raise DataError(
            f"mix: {len(repeat)} repeat count(s) for {len(paths)} input file(s); give one per file"
        )
    sources: dict[str, list[ConversationRecord]] = {}
    for label, path in zip(_labels(paths), paths):
        raw = load_json_list(path)
        if raw and isinstance(raw[0], dict) and "question_id" in raw[0] and "conversations" not in raw[0]:
            raise DataError(
                f"{path}: record #0 is a depict *test* record (question_id/text/human_answer), not a "
                f"conversation; build training records with `cdreasoning data build-describe "
                f"--format train`"
            )
        sources[label] = parse_conversations(raw, source=str(path))
    copies = dict(zip(sources, repeat)) if repeat is not None else None
    return mix_records(sources, seed=seed, repeat=copies)
