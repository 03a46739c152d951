"""Evaluate a model's colour-difference scores against SPCD human ΔV, the way the field reports them.

    python cdreasoning/evaluate/cd_score.py --model-path cdreasoning-checkpoint --device cuda:0
    cdreasoning eval score --model-path CKPT --data test.csv --image-folder images/ --out runs/eval/model

Every pair of `--data` (an M-SPCD score JSON with `gt_score`, or an SPCD CSV `image_a,image_b,ΔV`) is scored with
`CDScorer` (batched), then reported for all / pixel-aligned / not-aligned pairs in both conventions:
level space without a fit (as CD-Reasoning: human ΔV → grade G) and ΔV space (as SPCD / CD-Flow: STRESS on ΔV,
PLCC after the logistic fit). Outputs in `--out`: `scores.csv` (written as pairs are scored; a rerun resumes),
`metrics.json`, `predictions.csv`, `scatter.png`, and the printed table. `--original-prompt` scores with the
exact prompt, level ids and padding of CD-Reasoning's cd_score.py (the paper's numbers); the default is the
training template.

Uncertainty and consistency (`cdreasoning.evaluate.calibration`): metrics.json also holds `calibration`
(share of human ΔV inside the model's 80 % interval, mean std, Spearman(std, |error|)), drawn in
`reliability.png` next to the scatter plot. `--consistency` also scores every pair as (B, A) and a sample of
images against themselves (`--identical-pairs`, default 50) and adds `consistency` (mean |s(A,B) − s(B,A)|, share
of level flips, mean score and P(negligible) of identical images) with the per-pair `consistency.csv`.

Default data layout (see playground/README.md): `playground/data/spcd/test.csv` with the images in
`playground/data/spcd/images/`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.cli_support import add_image_folder_argument
from cdreasoning.constants import CD_LEVELS
from cdreasoning.errors import report_errors

DEFAULT_DATA = "playground/data/spcd/test.csv"
DEFAULT_IMAGES = "playground/data/spcd/images"


def build_parser() -> argparse.ArgumentParser:
    from cdreasoning.inference.cli_common import (
        add_batch_arguments,
        add_model_arguments,
        add_overwrite_argument,
    )

    parser = argparse.ArgumentParser(
        prog="cdreasoning eval score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pairs",
        "--data",
        dest="data",
        default=DEFAULT_DATA,
        help=f"M-SPCD score JSON or SPCD CSV with human ΔV (default {DEFAULT_DATA})",
    )
    add_image_folder_argument(parser, f"image folder (default {DEFAULT_IMAGES})", default=DEFAULT_IMAGES)
    parser.add_argument(
        "--out", default=None, help="result folder (default runs/eval/<model folder name>/score)"
    )
    parser.add_argument(
        "--name", default=None, help="method name in the report (default: the model folder name)"
    )
    add_overwrite_argument(parser)
    parser.add_argument(
        "--allow-failures",
        action="store_true",
        help="report on the pairs that were scored even if some images could not be read "
        "(otherwise the run stops with the list of failed pairs and no metrics)",
    )
    parser.add_argument(
        "--consistency",
        action="store_true",
        help="also score every pair as (B, A) and a sample of (A, A) pairs; report the differences",
    )
    parser.add_argument(
        "--identical-pairs",
        type=int,
        default=50,
        help="how many images to score against themselves with --consistency (default 50)",
    )
    add_model_arguments(parser)
    add_batch_arguments(parser, default_batch=16)
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    from cdreasoning.data.pair_lists import read_pairs
    from cdreasoning.data.result_store import ResultLog
    from cdreasoning.data.spcd_names import spcd_alignment
    from cdreasoning.errors import DataError, PartialFailure
    from cdreasoning.evaluate.score_report import ScoreRow, write_score_report
    from cdreasoning.inference.cli_common import (
        check_default_data,
        image_pairs,
        load_scorer,
        result_provenance,
        run_over_pairs,
        workers,
    )

    args = build_parser().parse_args(argv)
    name = args.name or Path(args.model_path.rstrip("/")).name
    out = Path(args.out or f"runs/eval/{name}/score")
    check_default_data(args.data, DEFAULT_DATA)
    pairs = read_pairs(args.data)
    missing = [p.source for p in pairs if p.delta_v is None]
    if missing:
        raise DataError(
            f"{args.data}: {len(missing)} pair(s) have no human ΔV to evaluate against, e.g. {missing[0]}",
            hint="`cdreasoning score --pairs … --out scores.csv` scores pairs without ground truth",
        )
    scorer = load_scorer(args)
    words = scorer.levels.words
    uncertainty = ["std", "delta_v_low", "delta_v_high"]
    log = ResultLog(
        out / "scores.csv",
        pairs,
        ["human_delta_v", "score", "level", "delta_v", *uncertainty, *[f"p_{w}" for w in words]],
        provenance=result_provenance(args, scorer, args.data, "score", question=scorer.prompt.question),
        overwrite=args.overwrite,
    )

    def to_row(pair, result):
        row = {"human_delta_v": pair.delta_v}
        if result is not None:
            row.update(
                score=result.score,
                level=result.level,
                delta_v=result.delta_v,
                **{name: getattr(result, name) for name in uncertainty},
                **{f"p_{w}": result.probabilities[w] for w in words},
            )
        return row

    status = run_over_pairs(
        pairs,
        log,
        lambda todo: scorer.iter_scores(
            image_pairs(todo), args.batch_size, workers(args, scorer), args.image_folder
        ),
        to_row,
        "scoring",
    )
    if status and not args.allow_failures:
        raise PartialFailure(
            "not reporting metrics: some pairs failed (listed above)",
            hint="fix or remove the failed pairs and rerun (done pairs are kept), or pass --allow-failures",
        )

    rows = []
    for pair in pairs:
        row = log.rows[pair.index]
        if row.get("error"):
            continue
        aligned = spcd_alignment(pair.image_a, pair.image_b)
        probabilities = tuple(float(row[f"p_{w}"]) for w in words) if tuple(words) == CD_LEVELS else None
        rows.append(
            ScoreRow(pair.image_a, pair.image_b, pair.delta_v, float(row["score"]), aligned, probabilities)
        )
    config = {
        "model_path": str(args.model_path),
        "data": str(args.data),
        "prompt": "original" if scorer.prompt.original else "training",
        "conv_template": scorer.prompt.conv_template,
        "image_position": scorer.prompt.image_position,
        "question": scorer.prompt.question,
        "levels": list(words),
        "weights": list(scorer.levels.weights),
        "failed_pairs": len(pairs) - len(rows),
    }
    report = write_score_report(rows, out, prediction_space="grade", method_name=name, config=config)
    _uncertainty_and_consistency(args, scorer, pairs, log, report, out, name)
    print(f"report: {out}/metrics.json, predictions.csv, scatter.png, reliability.png", file=sys.stderr)
    return status


def _uncertainty_and_consistency(args, scorer, pairs, log, report, out: Path, name: str) -> None:
    """Add `calibration` (and with --consistency, `consistency`) to metrics.json; draw reliability.png."""
    import json

    from cdreasoning.evaluate.calibration import (
        calibration_metrics,
        format_calibration,
        run_consistency,
        save_reliability_plot,
        write_consistency_csv,
    )
    from cdreasoning.inference.cli_common import workers

    done = [p for p in pairs if not log.rows[p.index].get("error")]
    rows = [log.rows[p.index] for p in done]
    report["calibration"] = calibration_metrics(
        [float(r["score"]) for r in rows],
        [float(r["std"]) for r in rows],
        [p.delta_v for p in done],
        ground_truth=report.get("ground_truth", "human"),
    )
    save_reliability_plot(report["calibration"], out / "reliability.png", f"{name}: uncertainty calibration")
    if args.consistency:
        forward = [
            None
            if log.rows[p.index].get("error")
            else (log.rows[p.index]["score"], log.rows[p.index]["level"])
            for p in pairs
        ]
        report["consistency"], consistency_rows = run_consistency(
            scorer,
            [(p.image_a, p.image_b) for p in pairs],
            forward,
            identical=args.identical_pairs,
            batch_size=args.batch_size,
            num_workers=workers(args, scorer),
            image_folder=args.image_folder,
        )
        write_consistency_csv(consistency_rows, out / "consistency.csv")
    (out / "metrics.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(format_calibration(report["calibration"], report.get("consistency")))


if __name__ == "__main__":
    sys.exit(main())
