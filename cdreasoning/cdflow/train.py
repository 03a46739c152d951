"""Train CD-Flow on SPCD-format pair lists; resumable, validated every epoch, tested at the end.

    python -m cdreasoning.cdflow.train --training_datadir SPCD/images --work_path work_dir --datapath data \\
        --batch_size_train 8                                   # the seed's command: paper model, 768 px
    cdreasoning cdflow train --image-folder runs/synth/images --datapath runs/synth \\
        --work-path runs/cdflow --preset small --image-size 64 --epochs 8 --batch-size 8 --lr 2e-3

`--datapath` holds train.csv, val.csv and test.csv (rows `image_a,image_b,ΔV`, no header); the images named
there are in `--image-folder`. Outputs in `--work-path`:

    last.pt            everything needed to resume (written atomically at every epoch end, every --save-every
                       steps, at --max-steps and on Ctrl-C)
    best.pt            the EMA weights with the best validation SRCC (what `cdflow test` / CDFlowMetric load)
    log.jsonl          one JSON line per validation (epoch, step, train loss terms, val STRESS/PLCC/SRCC)
    tensorboard/       loss terms, learning rate, validation metrics (if tensorboard is installed)
    test/              the score report of best.pt on test.csv (metrics.json, predictions.csv, scatter.png)

A run reads top to bottom (`train`): settings (`train_settings.TrainSettings`, validated once) → setup
(`train_setup`: device, data, model; a fresh run initialises ActNorm from its first batch and only then
takes the EMA copy) → loop (`train_loop`: per step the loss of `loss.py`, Adam, EMA; per epoch validation
with the EMA weights, best.pt when the SRCC improves, step decay) → checkpoints (`train_checkpoints`) → test.
`--resume auto` (default) continues from work_path/last.pt when it exists; the data order, augmentation and
dequantisation noise are functions of (seed, epoch, pair), so a resumed run reproduces the uninterrupted one
exactly.
"""

from __future__ import annotations

import json
import sys
import time

from cdreasoning.cdflow.checkpoint import CheckpointError
from cdreasoning.cdflow.data import EvalPairs, batches_per_epoch
from cdreasoning.cdflow.flow import count_parameters
from cdreasoning.cdflow.options import default_workers, error_text
from cdreasoning.cdflow.train_settings import PROG, TrainSettings, build_parser, settings_from_argv
from cdreasoning.errors import DataError, report_errors

__all__ = ["build_parser", "main", "train"]


def train(settings: TrainSettings) -> int:
    """The whole run; returns the exit status (0 done, 130 interrupted)."""
    from cdreasoning.cdflow.allocator import tune_allocator
    from cdreasoning.cdflow.train_loop import train_epochs
    from cdreasoning.cdflow.train_setup import setup, train_dataset
    from cdreasoning.runtime import apply_threads, cpu_has_fast_bf16

    tune_allocator()  # before the first large tensor: no mmap/munmap churn per step on glibc (allocator.py)
    apply_threads(settings.threads, prog=PROG)

    # setup
    run, data = setup(settings)
    s, p = run.settings, run.progress  # resolved settings (eval size filled in)
    train_set = train_dataset(s, data["train"])
    val_pairs, val_path = data["val"]
    val_set = EvalPairs(
        val_pairs, s.training_datadir, csv_path=val_path, eval_size=s.eval_size, multiple=run.config.multiple
    )
    run.work.mkdir(parents=True, exist_ok=True)
    if p.global_step == 0 and not p.history:  # a fresh run: no log lines of an older run in this folder
        (run.work / "log.jsonl").unlink(missing_ok=True)
    else:  # resumed: the log is what the checkpoint saw (a line written after it, before a kill, is redone)
        lines = "".join(json.dumps(entry) + "\n" for entry in p.history)
        (run.work / "log.jsonl").write_text(lines, encoding="utf-8")
    for stale in run.work.glob(
        ".*.tmp"
    ):  # a checkpoint save interrupted by a kill (save_checkpoint's temp file)
        print(f"{PROG}: removing {stale}, left by an interrupted checkpoint save", file=sys.stderr)
        stale.unlink(missing_ok=True)
    steps_per_epoch = batches_per_epoch(len(train_set), s.batch_size_train)
    amp = "fp32" if run.amp_dtype is None else str(run.amp_dtype).removeprefix("torch.")
    print(
        f"{PROG}: {count_parameters(run.model):,} parameters ({run.config}), {run.device} {amp}; "
        f"{len(train_set)} training pairs ({steps_per_epoch} steps/epoch at {s.image_size} px), "
        f"{len(val_set)} validation pairs at {s.eval_size} px; "
        + (f"resuming at epoch {p.epoch + 1}, step {p.global_step}" if p.global_step else "fresh start")
    )

    if run.device.type == "cpu" and run.amp_dtype is None and not s.channels_last and cpu_has_fast_bf16():
        print(
            f"{PROG}: this CPU has hardware bf16 (AMX / AVX-512 BF16): --precision bf16 --channels-last makes "
            f"each step several times faster (docs/cdflow.md, Speed)"
        )

    # train (last.pt at every epoch end and stop, best.pt at every improvement)
    started = time.perf_counter()
    status = train_epochs(run, train_set, val_set)
    if status:
        return status
    print(
        f"{PROG}: trained to epoch {p.epoch}, step {p.global_step} in {time.perf_counter() - started:.1f} s; best "
        f"validation SRCC {p.best_val_srcc:.4f} (epoch {p.best_epoch}) → {run.work / 'best.pt'}"
    )

    # test
    if s.test:
        from cdreasoning.cdflow.test import evaluate_checkpoint

        test_pairs, test_path = data["test"]
        evaluate_checkpoint(
            run.work / "best.pt",
            test_path,
            s.training_datadir,
            run.work / "test",
            pairs=test_pairs,
            batch_size=s.batch_size_test,
            device=run.device,
            precision=s.precision,
            num_workers=default_workers(s.num_workers, run.device),
            progress=s.progress,
            channels_last=s.channels_last,
        )
    return 0


@report_errors
def main(argv: list[str] | None = None) -> int:
    try:
        settings = settings_from_argv(argv)
        return train(settings)
    except (DataError, CheckpointError, ValueError, FloatingPointError) as err:
        print(f"{PROG}: error: {error_text(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
