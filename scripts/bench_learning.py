"""Benchmark how the tiny MLLM learns: hard vs soft labels, image swap vs none, same budget and seed.

    python scripts/bench_learning.py --out runs/bench_learning                 # the measurement (run it alone)
    python scripts/bench_learning.py --out /tmp/bl --scenes 6 --steps 4 --variants hard,soft   # smoke run

On the quickstart's synthetic set (`cdreasoning data synth`, same scenes / size / seed as the quickstart unless
given), each variant starts from the same `tiny` random checkpoint (seed `--seed`) and fine-tunes it fully
(`cdreasoning train`, vision tower and abstractor trainable unless `--freeze-vision`) for `--steps` steps of
`--batch-size`, lr `--lr` (cosine, 5 % warm-up). Variants:

    hard          --score-loss ce   --swap-pair-prob 0.5   (the default recipe)
    soft          --score-loss soft --swap-pair-prob 0.5
    hard-noswap   --score-loss ce   --swap-pair-prob 0
    soft-noswap   --score-loss soft --swap-pair-prob 0

Then every variant scores the held-out test pairs (`CDScorer`) and the script prints, per variant: SRCC / PLCC /
STRESS in level space without fit (CD-Reasoning's convention) on all / aligned / not-aligned pairs, the share of
pairs on the most common predicted level (collapse check), calibration of the 80 % intervals (coverage, mean std,
SRCC(std, |error|)) and consistency (mean |s(A,B) − s(B,A)|, level flips, P(negligible) of identical images), next
to CIEDE2000's SRCC on the same pairs (the target the MLLM should beat). Results: OUT/bench_learning.json and
OUT/bench_learning.md. CPU timings are only meaningful when nothing else runs (see ../shared/ENVIRONMENT.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

VARIANTS = {
    "hard": ("--score-loss", "ce", "--swap-pair-prob", "0.5"),
    "soft": ("--score-loss", "soft", "--swap-pair-prob", "0.5"),
    "hard-noswap": ("--score-loss", "ce", "--swap-pair-prob", "0"),
    "soft-noswap": ("--score-loss", "soft", "--swap-pair-prob", "0"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/bench_learning", help="output folder")
    parser.add_argument(
        "--data", default=None, help="an existing synthetic set (default: make one in OUT/data)"
    )
    parser.add_argument("--scenes", type=int, default=60, help="scenes of the synthetic set (quickstart: 60)")
    parser.add_argument(
        "--size", type=int, default=64, help="image side of the synthetic set (quickstart: 64)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the model and the training")
    parser.add_argument(
        "--steps", type=int, default=900, help="optimizer steps per variant (quickstart: 900)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine, 5 %% warm-up)")
    parser.add_argument("--score-loss-weight", type=float, default=1.0)
    parser.add_argument("--soft-label-std", type=float, default=0.0)
    parser.add_argument(
        "--train-file",
        choices=("mix", "score"),
        default="mix",
        help="mix: train_mix.json (score + depict records, as the quickstart); score: score records only",
    )
    parser.add_argument("--freeze-vision", action="store_true", help="keep the vision tower frozen")
    parser.add_argument(
        "--position-scale",
        type=float,
        default=1.0,
        help="multiply the initial vision tower's position embeddings by this (1: as the tiny preset draws "
        "them, already ×10 the other weights' scale; see scripts/probe_vision.py and docs/training.md)",
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--workers", type=int, default=1, help="data-loading workers")
    parser.add_argument(
        "--identical-pairs", type=int, default=30, help="(A, A) pairs for the consistency check"
    )
    return parser


def _aligned(image_a: str, image_b: str):
    from cdreasoning.data.spcd_names import is_pixel_aligned

    try:
        return is_pixel_aligned(image_a, image_b)
    except ValueError:
        return None


def _ciede2000_srcc(data: Path, out: Path) -> dict:
    from cdreasoning.evaluate.baseline import main as baseline

    folder = out / "ciede2000"
    if not (folder / "metrics.json").exists():
        argv = [
            "--method",
            "ciede2000",
            "--pairs",
            str(data / "test.csv"),
            "--image-folder",
            str(data / "images"),
        ]
        baseline([*argv, "--out", str(folder)])
    subsets = json.loads((folder / "metrics.json").read_text())["subsets"]
    return {s: subsets[s].get("delta_v", {}).get("srcc") for s in ("all", "aligned", "not_aligned")}


def _scale_positions(weights: Path, scale: float) -> None:
    """Rewrite a checkpoint's vision position embeddings ×scale (a random tower's LayerNorm keeps more brightness)."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(weights)
    key = "model.vision_model.embeddings.position_embedding"
    tensors[key] = tensors[key] * scale
    save_file(tensors, weights, metadata={"format": "pt"})


def _train(name: str, args, data: Path, init: Path, out: Path) -> float:
    from cdreasoning.train.finetune import main as finetune

    train_file = data / ("train_mix.json" if args.train_file == "mix" else "score_task/train_data.json")
    argv = [
        "--model_name_or_path", str(init), "--output_dir", str(out), "--data_path", str(train_file),
        "--image_folder", str(data / "images"), "--per_device_train_batch_size", str(args.batch_size),
        "--max_steps", str(args.steps), "--learning_rate", str(args.lr), "--lr_scheduler_type", "cosine",
        "--warmup_ratio", "0.05", "--weight_decay", "0", "--model_max_length", "512", "--save_strategy", "no",
        "--logging_steps", str(max(1, min(25, args.steps // 10))), "--dataloader_num_workers", str(args.workers),
        "--seed", str(args.seed), "--report_to", "none", "--tune_visual_abstractor", "True",
        "--freeze_vision_model", str(args.freeze_vision), "--score-loss-weight", str(args.score_loss_weight),
        "--soft-label-std", str(args.soft_label_std), *VARIANTS[name],
    ]  # fmt: skip
    started = time.perf_counter()
    if finetune(argv) != 0:
        raise SystemExit(f"training variant {name} failed")
    return time.perf_counter() - started


def _evaluate(model_dir: Path, data: Path, identical: int) -> dict:
    from cdreasoning import CDScorer
    from cdreasoning.data import read_spcd_csv
    from cdreasoning.evaluate.calibration import calibration_metrics, run_consistency
    from cdreasoning.evaluate.score_report import ScoreRow, score_metrics

    pairs = read_spcd_csv(data / "test.csv")
    scorer = CDScorer.from_pretrained(model_dir, device="auto")
    names = [(p.image_a, p.image_b) for p in pairs]
    results = scorer.score_pairs(names, batch_size=64, image_folder=data / "images")
    rows = [
        ScoreRow(p.image_a, p.image_b, p.delta_v, r.score, _aligned(p.image_a, p.image_b), None)
        for p, r in zip(pairs, results)
    ]
    subsets = score_metrics(rows, "grade")
    levels = Counter(r.level for r in results)
    consistency, _ = run_consistency(
        scorer, names, [(r.score, r.level) for r in results], identical=identical, batch_size=64,
        image_folder=data / "images",
    )  # fmt: skip
    return {
        "level_space": {
            s: {k: subsets[s].get("level", {}).get(k) for k in ("srcc", "plcc", "stress")} for s in subsets
        },
        "most_common_level_share": levels.most_common(1)[0][1] / len(results),
        "levels": dict(levels),
        "calibration": calibration_metrics(
            [r.score for r in results], [r.std for r in results], [p.delta_v for p in pairs]
        ),
        "consistency": consistency,
    }


def _fmt(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(results: dict, ciede: dict, args) -> str:
    head = (
        f"tiny preset, {args.steps} steps × batch {args.batch_size}, lr {args.lr}, seed {args.seed}, "
        f"train file {args.train_file}, vision {'frozen' if args.freeze_vision else 'trainable'}, "
        f"position embeddings ×{args.position_scale:g}; "
        f"level space, no fit; CIEDE2000 SRCC all/aligned/not: "
        f"{_fmt(ciede['all'])}/{_fmt(ciede['aligned'])}/{_fmt(ciede['not_aligned'])}\n\n"
    )
    lines = [
        (
            "| variant | SRCC all | SRCC al. | SRCC n.al. | PLCC all | STRESS all | top level share | "
            "coverage 80 % | mean std | SRCC(std,err) | swap diff | level flips | P(negl.) A,A | train s |"
        ),
        "|" + "---|" * 14,
    ]
    for name, r in results.items():
        ls, cal, con = r["level_space"], r["calibration"], r["consistency"]
        lines.append(
            f"| {name} | {_fmt(ls['all']['srcc'])} | {_fmt(ls['aligned']['srcc'])} | "
            f"{_fmt(ls['not_aligned']['srcc'])} | {_fmt(ls['all']['plcc'])} | {_fmt(ls['all']['stress'], 1)} | "
            f"{_fmt(r['most_common_level_share'], 2)} | {_fmt(cal['coverage'], 2)} | {_fmt(cal['mean_std'], 2)} | "
            f"{_fmt(cal['srcc_std_abs_error'], 2)} | {_fmt(con['mean_abs_swap_difference'], 3)} | "
            f"{_fmt(con['level_flip_share'], 2)} | {_fmt(con['identical_mean_p_negligible'], 2)} | "
            f"{r['train_seconds']:.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from cdreasoning.data import synthesize
    from cdreasoning.model.presets import write_checkpoint

    args = build_parser().parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if args.position_scale <= 0:
        raise SystemExit(f"--position-scale must be > 0, got {args.position_scale:g}")
    out = Path(args.out)
    data = Path(args.data) if args.data else out / "data"
    if not (data / "test.csv").exists():
        synthesize(data, scenes=args.scenes, seed=args.seed, size=args.size, progress=False)
    init = out / ("tiny-init" if args.position_scale == 1 else f"tiny-init-pos{args.position_scale:g}")
    if not (init / "model.safetensors").exists():
        write_checkpoint("tiny", init, seed=args.seed, overwrite=True)
        if args.position_scale != 1:
            _scale_positions(init / "model.safetensors", args.position_scale)
    ciede = _ciede2000_srcc(data, out)
    results = {}
    for name in variants:
        model_dir = out / name
        seconds = _train(name, args, data, init, model_dir)
        results[name] = {"train_seconds": seconds, **_evaluate(model_dir, data, args.identical_pairs)}
    table = _table(results, ciede, args)
    print(table)
    report = {"config": vars(args), "ciede2000_srcc": ciede, "variants": results}
    (out / "bench_learning.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "bench_learning.md").write_text(table)
    print(f"written: {out}/bench_learning.json, bench_learning.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
