"""Small builders shared by the data tests (raw records, files)."""

from __future__ import annotations

import json
from pathlib import Path


def score_record(
    record_id="000000000001",
    images=("a.png", "b.png"),
    question="How do they differ?",
    answer="The color difference between these two images is slight.",
    gt_score=2.0,
    placeholder="<|image|>",
):
    record = {
        "id": record_id,
        "image": list(images),
        "conversations": [
            {"from": "human", "value": placeholder * len(images) + "\n" + question},
            {"from": "gpt", "value": answer},
        ],
    }
    if gt_score is not None:
        record["gt_score"] = gt_score
    return record


def write_records(path: Path, records) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path
