"""Test a trained CD-Flow checkpoint on an SPCD pair list: STRESS, PLCC, SRCC for all / aligned / not-aligned pairs.

    python -m cdreasoning.cdflow.test --training_datadir SPCD/images --work_path work_dir --datapath data \\
        --batch_size_test 8                                  # the seed's flags: work_dir/best.pt on data/test.csv
    cdreasoning cdflow test --training_datadir IMAGES --work_path runs/cdflow --test_csv other.csv --out runs/x

Reads WORK_PATH/best.pt (or --checkpoint; the model and its preprocessing come from the file, no architecture
flags), scores every pair of DATAPATH/test.csv (or --test_csv) with ΔE = the RMS latent distance, and writes the
score report (`evaluate.score_report.write_score_report`, ΔV space: STRESS on ΔV, PLCC and RMSE after the
5-parameter logistic fit, SRCC / KRCC raw) into WORK_PATH/test (or --out): metrics.json, predictions.csv,
scatter.png; the table is printed. Pixel-aligned / not-aligned subsets follow the SPCD naming rule
(`cdreasoning.data.spcd_names`), which reproduces the published test_aligned / test_notaligned files. The result
directory works with `cdreasoning eval compare` next to the baselines and the MLLM.

The original's README documented `--datadir` while its test.py read `--dataset` (and silently used an empty
image folder); here the image folder is --training_datadir as in training, and both old spellings are aliases.

Resumable: each scored pair is appended to OUT/cdflow_cache.csv; a rerun with the same checkpoint
(fingerprint), evaluation size, precision and image folder scores only the missing pairs. Any change of
those starts the cache afresh.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from cdreasoning.cdflow.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from cdreasoning.cdflow.data import EvalPairs, check_pair_images
from cdreasoning.cdflow.options import (
    add_data_arguments,
    add_option,
    apply_threads,
    default_workers,
    error_text,
    resolve_amp_dtype,
)
from cdreasoning.cdflow.predict import predict_pairs
from cdreasoning.data.result_store import PairCache, read_pair_cache
from cdreasoning.data.spcd import SpcdPair, read_spcd_csv
from cdreasoning.data.spcd_names import spcd_alignment
from cdreasoning.errors import DataError, report_errors
from cdreasoning.runtime import resolve_device

__all__ = ["build_parser", "evaluate_checkpoint", "main"]

PROG = "cdreasoning cdflow test"
CACHE_NAME = "cdflow_cache.csv"
RUN_NAME = "cdflow_run.json"


def evaluate_checkpoint(
    checkpoint: str | Path,
    pairs_csv: str | Path,
    image_dir: str | Path,
    out_dir: str | Path,
    *,
    pairs: list[SpcdPair] | None = None,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    precision: str = "auto",
    eval_size: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
    method_name: str = "cdflow",
    echo: bool = True,
    overwrite: bool = True,
) -> dict[str, Any]:
    """Score every pair of `pairs_csv` with the checkpoint and write the score report into `out_dir`.

    eval_size: shorter side the images are resized to (default: the checkpoint's; 0 = native size); sides are
    then centre-cropped to multiples of 2**scales. Returns the report (what OUT/metrics.json holds).
    overwrite: when `out_dir` holds results of another checkpoint or settings, discard them (True: what the
    end of `cdflow train` does for its own folder) or refuse naming the difference (False: `cdflow test`).
    """
    from cdreasoning.evaluate.score_report import ScoreRow, write_score_report

    device = resolve_device(device)
    amp_dtype = resolve_amp_dtype(precision, device)
    pairs_csv, image_dir, out_dir = Path(pairs_csv), Path(image_dir), Path(out_dir)
    pairs = read_spcd_csv(pairs_csv) if pairs is None else pairs
    check_pair_images(pairs, image_dir, pairs_csv)
    payload = load_checkpoint(checkpoint)
    model, info = model_from_checkpoint(payload, device=device)
    size = info["eval_size"] if eval_size is None else (eval_size or None)
    multiple = model.config.multiple
    if size is not None and (size < multiple or size % multiple):
        raise ValueError(
            f"eval_size {size} must be a positive multiple of 2**scales = {multiple} (or 0: native)"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    identity = {
        "checkpoint_fingerprint": info.get("fingerprint"),
        "eval_size": size,
        "precision": "fp32" if amp_dtype is None else str(amp_dtype),
        "image_folder": str(image_dir.resolve()),
    }
    run_path, cache_path = out_dir / RUN_NAME, out_dir / CACHE_NAME
    previous = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else None
    if previous is not None and previous != identity and not overwrite:
        from cdreasoning.data.provenance import describe_differences

        raise DataError(
            f"{out_dir} holds CD-Flow test results of another checkpoint or settings ("
            + "; ".join(describe_differences(previous, identity))
            + ")",
            hint="pass --overwrite to discard them, or write to a new --out",
        )
    cache = read_pair_cache(cache_path, "CD-Flow test") if previous == identity else {}
    if previous is not None and previous != identity and echo:
        print(f"{PROG}: {out_dir} held results of another checkpoint or settings; recomputing")
    run_path.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
    if not cache:
        cache_path.unlink(missing_ok=True)  # results of another checkpoint or settings: start the store anew

    dataset = EvalPairs(pairs, image_dir, csv_path=pairs_csv, eval_size=size, multiple=model.config.multiple)
    todo, seen = [], set()
    for i, pair in enumerate(pairs):
        if pair.key not in cache and pair.key not in seen:
            todo.append(i)
            seen.add(pair.key)
    if echo:
        print(
            f"{PROG}: {checkpoint} ({model.config}, epoch {info.get('epoch', '?')}, validation SRCC "
            f"{info.get('val_srcc', float('nan')):.4f}) on {len(pairs)} pairs of {pairs_csv} at "
            f"{'native size' if size is None else f'{size} px'}; {len(pairs) - len(todo)} cached, "
            f"{len(todo)} to score on {device}"
        )
    started = time.perf_counter()
    with PairCache(cache_path) as store:

        def record(indices: list[int], values) -> None:
            items = [(pairs[index].key, float(value)) for index, value in zip(indices, values)]
            cache.update(items)
            store.add_many(items)

        predict_pairs(
            model,
            dataset,
            batch_size=batch_size,
            device=device,
            amp_dtype=amp_dtype,
            num_workers=num_workers,
            indices=todo,
            progress=progress,
            desc="test",
            on_batch=record,
        )
    elapsed = time.perf_counter() - started

    rows = [
        ScoreRow(p.image_a, p.image_b, p.delta_v, cache[p.key], spcd_alignment(p.image_a, p.image_b))
        for p in pairs
    ]
    config = {
        "checkpoint": str(checkpoint),
        "model": model.config.to_dict(),
        "epoch": info.get("epoch"),
        "global_step": info.get("global_step"),
        "val_srcc": info.get("val_srcc"),
        "eval_size": size,
        "pairs_csv": str(pairs_csv),
        "image_folder": str(image_dir),
        "device": str(device),
        "precision": identity["precision"],
        "scored_pairs": len(todo),
        "seconds": round(elapsed, 2),
    }
    return write_score_report(
        rows, out_dir, prediction_space="delta_v", method_name=method_name, config=config, echo=echo
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score an SPCD pair list with a trained CD-Flow checkpoint (ΔE = RMS latent distance) and "
        "report STRESS, PLCC (after the 5-parameter logistic fit), SRCC and KRCC for all, pixel-aligned and "
        "not-aligned pairs.",
        epilog="Outputs in --out (default WORK_PATH/test): metrics.json, predictions.csv, scatter.png, and "
        f"{CACHE_NAME} (per-pair results as they are computed: rerunning resumes).",
    )
    add_data_arguments(parser)
    add_option(
        parser,
        "--test_csv",
        type=Path,
        default=None,
        help="pair list to score (default: DATAPATH/TESTSET, i.e. data/test.csv)",
    )
    add_option(
        parser,
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint to test (default: WORK_PATH/best.pt)",
    )
    add_option(parser, "--out", type=Path, default=None, help="report folder (default: WORK_PATH/test)")
    add_option(
        parser,
        "--eval_size",
        type=int,
        default=None,
        help="shorter side the images are resized to (default: the checkpoint's, 1024 for the paper's "
        "model; 0 = native size); sides are then centre-cropped to multiples of 2**scales",
    )
    add_option(parser, "--name", default="cdflow", help="method name in the report (default: cdflow)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="discard results in --out made by another checkpoint or settings (otherwise they are refused)",
    )
    add_option(
        parser,
        "--batch_size_train",
        type=int,
        default=None,
        help="accepted so that the seed's test command (the training flags) runs unchanged; testing does not "
        "train, so it has no effect (the evaluation batch is --batch-size-test)",
    )
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    checkpoint = args.checkpoint or Path(args.work_path) / "best.pt"
    pairs_csv = args.test_csv or Path(args.datapath) / args.testset
    try:
        if args.batch_size_test < 1:
            raise ValueError(f"--batch-size-test must be ≥ 1, got {args.batch_size_test}")
        if not Path(checkpoint).is_file():
            raise CheckpointError(
                f"{checkpoint}: checkpoint not found (train first with `cdreasoning cdflow train`, or pass "
                f"--checkpoint)"
            )
        apply_threads(args.threads)
        try:
            device = resolve_device(args.device)
        except RuntimeError as err:  # e.g. --device cuda without CUDA
            raise ValueError(str(err)) from None
        workers = default_workers(args.num_workers, device)
        evaluate_checkpoint(
            checkpoint,
            pairs_csv,
            args.training_datadir,
            args.out or Path(args.work_path) / "test",
            batch_size=args.batch_size_test,
            device=device,
            precision=args.precision,
            eval_size=args.eval_size,
            num_workers=workers,
            progress=not args.no_progress,
            method_name=args.name,
            overwrite=args.overwrite,
        )
    except (DataError, CheckpointError, ValueError) as err:
        if getattr(err, "hint", None):
            raise  # report_errors prints it with its hint
        print(f"{PROG}: error: {error_text(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
