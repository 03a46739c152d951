"""Trivial baselines next to each number, and collapse detection (used by the quickstart report).

A number only means something next to what a model that learned nothing would get:

- scores: a constant answer has no rank correlation (SRCC / PLCC undefined, i.e. 0) and its STRESS does not
  depend on the constant (F absorbs it), so `constant_stress` is the STRESS any constant predictor gets; the
  level accuracy of always answering the most common test level is `majority_level_accuracy`.
- descriptions: answering every attribute with its most common test severity (`majority_severity_accuracy`).

A model is flagged **collapsed** when it gives one level to at least `COLLAPSE_SHARE` (90 %) of the pairs, or when
it writes few distinct descriptions (at most `max(3, 5 % of the pairs)`): its accuracy is then the majority
class's, whatever the table says.

Reads only files the quickstart's steps write (eval/<label>/scores.csv, metrics.json, descriptions.jsonl).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning import metrics as M
from cdreasoning.constants import ATTRIBUTES
from cdreasoning.scale import grade_from_delta_v, level_from_delta_v

COLLAPSE_SHARE = 0.9


def constant_stress(human_delta_v: Sequence[float]) -> dict[str, float]:
    """STRESS of any constant prediction, in ΔV space and in level (grade) space."""
    dv = np.asarray(human_delta_v, dtype=np.float64)
    grade = np.clip(np.asarray(grade_from_delta_v(dv)), 1e-6, None)  # STRESS needs positive values
    return {
        "delta_v": M.stress(np.ones_like(dv), dv),
        "level": M.stress(np.ones_like(grade), grade),
    }


def score_checks(scores_csv: str | Path) -> dict[str, Any]:
    """From an `eval score` scores.csv: level accuracy vs the majority class, top-level share, collapse."""
    with Path(scores_csv).open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if not r.get("error")]
    if not rows:
        raise ValueError(f"{scores_csv}: no scored pairs")
    human = [float(r["human_delta_v"]) for r in rows]
    truth = [level_from_delta_v(dv) for dv in human]
    predicted = [r["level"] for r in rows]
    top_level, top_count = Counter(predicted).most_common(1)[0]
    majority_level, majority_count = Counter(truth).most_common(1)[0]
    return {
        "n_pairs": len(rows),
        "level_accuracy": float(np.mean([p == t for p, t in zip(predicted, truth)])),
        "majority_level": majority_level,
        "majority_level_accuracy": majority_count / len(rows),
        "top_level": top_level,
        "top_level_share": top_count / len(rows),
        "distinct_levels": len(set(predicted)),
        "collapsed": top_count / len(rows) >= COLLAPSE_SHARE,
        "constant_stress": constant_stress(human),
    }


def description_checks(descriptions_jsonl: str | Path) -> dict[str, Any]:
    """From an `eval describe` descriptions.jsonl: distinct texts, majority-severity accuracy, collapse."""
    records = [
        json.loads(line)
        for line in Path(descriptions_jsonl).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not records:
        raise ValueError(f"{descriptions_jsonl}: no descriptions")
    distinct = len({r["generated"].strip() for r in records})
    cells = [(a, r["reference_severities"].get(a)) for r in records for a in ATTRIBUTES]
    hits = 0
    total = 0
    for attribute in ATTRIBUTES:
        values = [v for a, v in cells if a == attribute and v is not None]
        if values:
            hits += Counter(values).most_common(1)[0][1]
            total += len(values)
    predicted_sets = {tuple(sorted(r["predicted_severities"].items())) for r in records}
    return {
        "n_descriptions": len(records),
        "distinct_texts": distinct,
        "distinct_severity_patterns": len(predicted_sets),
        "majority_severity_accuracy": hits / total if total else None,
        "collapsed": distinct <= max(3, int(0.05 * len(records))),
    }
