"""One leaderboard from several score reports: `cdreasoning eval compare RESULT_DIR... [--out DIR]`.

    cdreasoning eval compare runs/baselines/cie76 runs/baselines/ciede2000 runs/cdflow runs/score \\
        --out runs/leaderboard

Each RESULT_DIR is an output of `write_score_report` (the MLLM scorer, CD-Flow, `eval baseline`): its
metrics.json and predictions.csv are read. Numbers are only comparable on identical pairs, so the set of
(image_a, image_b) pairs must be the same in every directory, with the same human ΔV; otherwise the command
refuses with the differences listed. With --intersect it instead recomputes every method's metrics on the
pairs common to all (the human ΔV must still agree). Outputs: leaderboard.md (methods × subsets × metrics,
one table per convention, the best value of each column per subset in bold), leaderboard.png (bar charts
side by side), leaderboard.json; the markdown is also printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdreasoning.errors import report_errors
from cdreasoning.evaluate.score_report import SUBSETS, load_score_report, score_metrics

__all__ = [
    "ComparisonError",
    "Leaderboard",
    "compare_results",
    "format_leaderboard",
    "main",
    "write_leaderboard",
]

# (key, column title, higher is better)
COLUMNS = (
    ("stress", "STRESS ↓", False),
    ("plcc", "PLCC ↑", True),
    ("srcc", "SRCC ↑", True),
    ("krcc", "KRCC ↑", True),
    ("rmse", "RMSE ↓", False),
)
CONVENTION_TITLES = {
    "delta_v": "ΔV space (SPCD / CD-Flow convention: STRESS on ΔV, PLCC and RMSE after the 5-parameter "
    "logistic fit, SRCC / KRCC on raw predictions)",
    "level": "Level space, no fit (CD-Reasoning convention: human ΔV mapped to the grade G, compared with "
    "the predicted grade directly; MLLM grade predictions only)",
}
EXAMPLES = 5


class ComparisonError(ValueError):
    """The result directories cannot be compared (different pairs, different ground truth, bad files)."""


@dataclass
class Leaderboard:
    """entries: one per result directory: {"label", "method", "dir", "prediction_space", "subsets"}."""

    entries: list[dict[str, Any]]
    n_pairs: int
    intersected: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs,
            "intersected": self.intersected,
            "notes": self.notes,
            "entries": self.entries,
        }


def _examples(keys: set[tuple[str, str]]) -> str:
    shown = ", ".join(f"({a}, {b})" for a, b in sorted(keys)[:EXAMPLES])
    return shown + (", …" if len(keys) > EXAMPLES else "")


def compare_results(result_dirs: Sequence[str | Path], *, intersect: bool = False) -> Leaderboard:
    """Load and check the result directories; see the module docstring. Raises ComparisonError."""
    if not result_dirs:
        raise ComparisonError("no result directories given")
    loaded = []
    for d in result_dirs:
        try:
            report, rows = load_score_report(d)
        except (OSError, ValueError) as err:
            raise ComparisonError(str(err)) from None
        loaded.append((Path(d), report, rows))

    # The same pair must carry the same human ΔV everywhere (else the ground truth files differ).
    truth: dict[tuple[str, str], tuple[float, Path]] = {}
    for d, _, rows in loaded:
        for row in rows:
            seen = truth.setdefault(row.key, (row.human_delta_v, d))
            if not math.isclose(seen[0], row.human_delta_v, rel_tol=1e-9, abs_tol=1e-12):
                raise ComparisonError(
                    f"pair ({row.image_a}, {row.image_b}) has human ΔV {seen[0]!r} in {seen[1]} but "
                    f"{row.human_delta_v!r} in {d}: the results were computed against different ground truth"
                )

    key_sets = [{row.key for row in rows} for _, _, rows in loaded]
    common = set.intersection(*key_sets)
    notes: list[str] = []
    if any(keys != key_sets[0] for keys in key_sets):
        if not intersect:
            first = loaded[0][0]
            lines = [
                (
                    f"the result directories were not computed on identical pairs (reference: {first}, "
                    f"{len(key_sets[0])} pairs):"
                )
            ]
            for (d, _, _), keys in zip(loaded[1:], key_sets[1:]):
                missing, extra = key_sets[0] - keys, keys - key_sets[0]
                if missing or extra:
                    lines.append(
                        f"  {d} ({len(keys)} pairs): {len(missing)} missing"
                        + (f" [{_examples(missing)}]" if missing else "")
                        + f", {len(extra)} extra"
                        + (f" [{_examples(extra)}]" if extra else "")
                    )
            lines.append(f"pass --intersect to compare every method on the {len(common)} pairs common to all")
            raise ComparisonError("\n".join(lines))
        if len(common) < 3:
            raise ComparisonError(f"only {len(common)} pair(s) are common to all result directories")
        notes.append(
            f"intersection of the result directories: {len(common)} common pairs (sizes "
            + ", ".join(str(len(k)) for k in key_sets)
            + "); metrics recomputed on them"
        )

    labels = [report["method"] for _, report, _ in loaded]
    entries = []
    for (d, report, rows), label in zip(loaded, labels):
        if labels.count(label) > 1:
            label = f"{label} ({d.name})"
        subsets = report["subsets"]
        if notes:  # the pair sets differed and --intersect was given: recompute on the common pairs
            subsets = score_metrics([r for r in rows if r.key in common], report["prediction_space"])
        entries.append(
            {
                "label": label,
                "method": report["method"],
                "dir": str(d),
                "prediction_space": report["prediction_space"],
                "subsets": subsets,
            }
        )
    n_pairs = sum(1 for r in loaded[0][2] if r.key in common)
    return Leaderboard(entries, n_pairs=n_pairs, intersected=bool(notes), notes=notes)


def _cell(value: float | None, key: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if key == "stress" else f"{value:.4f}"


def _best(values: list[float | None], higher: bool) -> float | None:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return None
    return max(present) if higher else min(present)


def format_leaderboard(board: Leaderboard) -> str:
    """The leaderboard as markdown: one table per convention, rows grouped by subset."""
    out = ["# Colour-difference leaderboard", ""]
    out.append(
        f"{board.n_pairs} pairs, identical in every result." if not board.intersected else board.notes[0]
    )
    out.append("")
    out.append(
        "Methods: "
        + "; ".join(
            f"**{e['label']}** ({e['prediction_space']} predictions, `{e['dir']}`)" for e in board.entries
        )
    )
    for convention in ("delta_v", "level"):
        entries = [
            e
            for e in board.entries
            if any(convention in e["subsets"][s] for s in SUBSETS) or convention == "delta_v"
        ]
        if convention == "level" and not entries:
            continue
        out += ["", f"## {CONVENTION_TITLES[convention]}", ""]
        out.append("| method | subset | pairs | " + " | ".join(title for _, title, _ in COLUMNS) + " |")
        out.append("|---|---|---:|" + "---:|" * len(COLUMNS))
        for subset in SUBSETS:
            blocks = [e["subsets"][subset].get(convention) for e in entries]
            best = {
                key: _best([b.get(key) if b else None for b in blocks], higher) for key, _, higher in COLUMNS
            }
            for entry, block in zip(entries, blocks):
                sub = entry["subsets"][subset]
                if block is None:
                    reason = sub.get("absent", "not defined for this method")
                    out.append(
                        f"| {entry['label']} | {subset} | {sub['n_pairs']} | "
                        + " | ".join(["—"] * len(COLUMNS))
                        + f" |  <!-- {reason} -->"
                    )
                    continue
                cells = []
                for key, _, _ in COLUMNS:
                    text = _cell(block.get(key), key)
                    cells.append(
                        f"**{text}**" if best[key] is not None and block.get(key) == best[key] else text
                    )
                out.append(f"| {entry['label']} | {subset} | {sub['n_pairs']} | " + " | ".join(cells) + " |")
    out += ["", "Absent subsets (fewer than 3 pairs, or alignment unknown) are shown as —."]
    return "\n".join(out) + "\n"


def write_leaderboard(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """leaderboard.md, leaderboard.json and leaderboard.png in `out_dir`."""
    from cdreasoning.evaluate.plots import save_grouped_bars

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "leaderboard.md",
        "json": out_dir / "leaderboard.json",
        "png": out_dir / "leaderboard.png",
    }
    paths["markdown"].write_text(format_leaderboard(board), encoding="utf-8")
    paths["json"].write_text(
        json.dumps(board.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    panels = []
    for convention, short in (("delta_v", "ΔV space"), ("level", "level space")):
        entries = [e for e in board.entries if any(convention in e["subsets"][s] for s in SUBSETS)]
        if not entries:
            continue
        for key, title, _ in COLUMNS[:3]:
            series = {
                e["label"]: [e["subsets"][s].get(convention, {}).get(key) for s in SUBSETS] for e in entries
            }
            panels.append((f"{title} ({short})", list(SUBSETS), series))
    save_grouped_bars(panels, paths["png"], f"leaderboard ({board.n_pairs} pairs)")
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning eval compare",
        description="Put several score reports (MLLM scores, CD-Flow, baselines) side by side. The results "
        "must be computed on identical pairs (same (image_a, image_b) set and human ΔV).",
    )
    parser.add_argument(
        "result_dirs",
        nargs="+",
        type=Path,
        metavar="RESULT_DIR",
        help="a directory holding metrics.json and predictions.csv of a score report",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write leaderboard.md, leaderboard.json and leaderboard.png here (default: only "
        "print the markdown table)",
    )
    parser.add_argument(
        "--intersect",
        action="store_true",
        help="when the pair sets differ, recompute every method on the pairs common to all "
        "instead of refusing",
    )
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        board = compare_results(args.result_dirs, intersect=args.intersect)
    except ComparisonError as err:
        print(f"cdreasoning eval compare: error: {err}", file=sys.stderr)
        return 2
    print(format_leaderboard(board), end="")
    if args.out is not None:
        paths = write_leaderboard(board, args.out)
        print(f"leaderboard written to {paths['markdown']}, {paths['png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
