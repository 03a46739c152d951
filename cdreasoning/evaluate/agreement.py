"""Does the explanation agree with the score? The overall level of a pair against its described severities.

    cdreasoning eval describe --model-path CKPT --data depict_test.json --scores runs/eval/CKPT/score/scores.csv
    from cdreasoning.evaluate.agreement import explanation_agreement

A model that scores a pair "severe" and describes every attribute as "slight" contradicts itself; a user cannot
trust either answer. For every described pair that also has a score (joined on the image pair), the rule is:

- the description's **strongest severity** is the largest parsed attribute severity (slight < moderate <
  severe; attributes the text does not rate are ignored; a text that rates none is "unrated" and not counted);
- **contradiction**: the score's level is negligible or slight while some attribute is "severe", or the level is
  significant or severe while every rated attribute is "slight";
- **match** (stricter): the strongest severity is the one expected for the level — slight for negligible and
  slight, moderate for moderate, severe for significant and severe.

Reported: `agreement` (share of rated pairs without contradiction), `match_share`, `contradictions`,
`srcc_score_mean_severity` (Spearman of the score against the mean rated severity, 1/2/3), counts of pairs
without a score or without rated attributes. `annotate_description_report` adds this to the description report:
`agreement` in metrics.json, per-line `score`, `level`, `contradiction` in descriptions.jsonl, and
`contradictions.csv` listing the contradicting pairs.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning.constants import CD_LEVELS, SEVERITIES

EXPECTED_SEVERITY = {
    "negligible": "slight",
    "slight": "slight",
    "moderate": "moderate",
    "significant": "severe",
    "severe": "severe",
}


def judge(level: str, severities: Mapping[str, str]) -> dict[str, Any]:
    """The rule for one pair: {"strongest", "contradiction", "match"} (None values when nothing is rated)."""
    # Indices 0/1/2 for slight/moderate/severe; values the parser could not map are not ratings.
    rated = [SEVERITIES.index(s) for s in severities.values() if s in SEVERITIES]
    level = level.strip().lower()
    if level not in CD_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {CD_LEVELS}")
    if not rated:
        return {"strongest": None, "contradiction": None, "match": None}
    strongest = SEVERITIES[max(rated)]
    low_level = CD_LEVELS.index(level) <= CD_LEVELS.index("slight")
    high_level = CD_LEVELS.index(level) >= CD_LEVELS.index("significant")
    # Only the extremes contradict: a "moderate" level or strongest severity is consistent with anything.
    contradiction = (low_level and strongest == "severe") or (high_level and strongest == "slight")
    return {
        "strongest": strongest,
        "contradiction": bool(contradiction),
        "match": strongest == EXPECTED_SEVERITY[level],
    }


def explanation_agreement(
    items: Sequence[tuple[float, str, Mapping[str, str]]], n_without_score: int = 0
) -> dict[str, Any]:
    """items: (score, level, parsed severities) per pair that has both. Returns JSON-ready numbers."""
    judged = [(score, judge(level, sev), sev) for score, level, sev in items]
    rated = [(score, j, sev) for score, j, sev in judged if j["strongest"] is not None]
    out: dict[str, Any] = {
        "rule": "contradiction: level negligible/slight with an attribute 'severe', or level "
        "significant/severe with every rated attribute 'slight'",
        "n_pairs": len(items),
        "n_without_score": n_without_score,
        "n_unrated": len(judged) - len(rated),
        "contradictions": sum(j["contradiction"] for _, j, _ in rated),
        "agreement": None,
        "match_share": None,
        "srcc_score_mean_severity": None,
    }
    if rated:
        out["agreement"] = 1.0 - out["contradictions"] / len(rated)
        out["match_share"] = float(np.mean([j["match"] for _, j, _ in rated]))
        scores = np.array([s for s, _, _ in rated])
        means = np.array(
            [
                # 1/2/3 for slight/moderate/severe, averaged over the attributes the text rated.
                np.mean([SEVERITIES.index(v) + 1 for v in sev.values() if v in SEVERITIES])
                for _, _, sev in rated
            ]
        )
        # Spearman needs spread on both sides; with a constant column the statistic stays undefined (None).
        if len(rated) >= 3 and np.ptp(scores) > 0 and np.ptp(means) > 0:
            from cdreasoning.metrics import srcc

            value = srcc(scores, means)
            out["srcc_score_mean_severity"] = float(value) if math.isfinite(value) else None
    return out


def read_scores(path: str | Path) -> dict[tuple[str, str], tuple[float, str]]:
    """(image_a, image_b) → (score, level) from a scores.csv of `cdreasoning score` / `eval score` (rows with an
    error are skipped)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"image_a", "image_b", "score", "level"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: not a scores CSV, missing column(s) {sorted(missing)}")
        return {
            (row["image_a"], row["image_b"]): (float(row["score"]), row["level"])
            for row in reader
            # Failed rows (an error, an empty score) have no score to compare.
            if not row.get("error") and row["score"] != ""
        }


def annotate_description_report(out_dir: str | Path, scores_csv: str | Path) -> dict[str, Any]:
    """Add explanation–score agreement to a description report folder (see the module docstring)."""
    out_dir = Path(out_dir)
    scores = read_scores(scores_csv)
    lines = [
        json.loads(line)
        for line in (out_dir / "descriptions.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    items, contradictions, without = [], [], 0
    for line in lines:
        key = tuple(line.get("images") or ())
        # Joined on the ordered image pair (a, b); a description of (b, a) does not match.
        found = scores.get(key) if len(key) == 2 else None
        if found is None:
            without += 1
            line.update(score=None, level=None, contradiction=None)
            continue
        score, level = found
        verdict = judge(level, line["predicted_severities"])
        line.update(score=score, level=level, contradiction=verdict["contradiction"])
        items.append((score, level, line["predicted_severities"]))
        if verdict["contradiction"]:
            contradictions.append(line)
    agreement = explanation_agreement(items, without)
    agreement["scores"] = str(scores_csv)
    with (out_dir / "descriptions.jsonl").open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    with (out_dir / "contradictions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image_a", "image_b", "score", "level", "severities", "generated"])
        for line in contradictions:
            images = line.get("images") or ["", ""]
            severities = ";".join(f"{k}={v}" for k, v in line["predicted_severities"].items())
            writer.writerow(
                [
                    line["id"],
                    images[0],
                    images[1],
                    line["score"],
                    line["level"],
                    severities,
                    line["generated"],
                ]
            )
    report = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    report["agreement"] = agreement
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return agreement


def format_agreement(agreement: Mapping[str, Any]) -> str:
    def f(value):
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"explanation–score agreement ({agreement['n_pairs']} pairs with a score, {agreement['n_unrated']} "
        f"unrated): {f(agreement['agreement'])} without contradiction ({agreement['contradictions']} "
        f"contradictions), strongest severity as expected {f(agreement['match_share'])}, "
        f"SRCC(score, mean severity) {f(agreement['srcc_score_mean_severity'])}"
    )
