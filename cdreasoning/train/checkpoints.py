"""Training checkpoints that survive a crash: written complete or not at all, and resumed by default.

    output_dir/checkpoint-300/                 complete (renamed into place once every file is written)
    output_dir/.partial-checkpoint-400/        a save that was interrupted: never resumed from, removed on rerun

- **Atomic saves.** `CDTrainer` writes each checkpoint into `.partial-checkpoint-N/checkpoint-N` and renames it
  to `checkpoint-N` when the model, optimizer, scheduler, RNG and trainer state are all on disk
  (`stage_dir` / `publish_checkpoint`). A kill during a save leaves only the `.partial-` folder.
- **Resume by default.** `cdreasoning train` (and so `scripts/finetune*.sh`) resumes from the newest complete
  checkpoint in `--output_dir` (`--resume_from_checkpoint auto`, the default). A `checkpoint-N` folder without
  `trainer_state.json` (the last file a save writes; e.g. left by an older version of this code) is skipped
  with a notice, and the previous complete one is used.
- **Never mixing runs.** A run that would start from step 0 in a folder holding another run's checkpoints
  (`--resume_from_checkpoint none`, or only incomplete checkpoints) is refused, because the Trainer's checkpoint
  rotation (`--save_total_limit`) would delete them. `--fresh` starts over after listing what it deletes.

`resolve_resume` is the whole policy; it runs on every rank and only the main process deletes anything.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cdreasoning.errors import UsageError

__all__ = [
    "PARTIAL_PREFIX",
    "CheckpointScan",
    "publish_checkpoint",
    "resolve_resume",
    "scan_checkpoints",
    "stage_dir",
]

PARTIAL_PREFIX = ".partial-"
STATE_FILE = "trainer_state.json"  # transformers writes it last in every checkpoint save
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
_NO_RESUME = ("none", "no", "false", "never")


@dataclass(frozen=True)
class CheckpointScan:
    """What an output folder holds. complete / incomplete: (step, path), oldest first; partial: staging folders."""

    complete: list[tuple[int, Path]]
    incomplete: list[tuple[int, Path]]
    partial: list[Path]

    @property
    def newest(self) -> Path | None:
        return self.complete[-1][1] if self.complete else None

    @property
    def everything(self) -> list[Path]:
        return [p for _, p in self.complete] + [p for _, p in self.incomplete] + self.partial


def scan_checkpoints(output_dir: str | Path) -> CheckpointScan:
    folder = Path(output_dir)
    complete, incomplete, partial = [], [], []
    if folder.is_dir():
        for path in folder.iterdir():
            if not path.is_dir():
                continue
            if path.name.startswith(PARTIAL_PREFIX):
                partial.append(path)
            elif match := _CHECKPOINT.fullmatch(path.name):
                step = int(match.group(1))
                # trainer_state.json is the last file a save writes: without it the checkpoint is incomplete.
                (complete if (path / STATE_FILE).is_file() else incomplete).append((step, path))
    # Sorted by step (an int), so checkpoint-1000 comes after checkpoint-900.
    return CheckpointScan(sorted(complete), sorted(incomplete), sorted(partial))


def _is_main_process() -> bool:
    # RANK first (global across nodes); LOCAL_RANK for a launcher that sets only that.
    return os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"


def _say(message: str) -> None:
    if _is_main_process():
        print(f"[train] {message}", file=sys.stderr, flush=True)


def resolve_resume(output_dir: str | Path, resume: str | None, fresh: bool = False) -> str | None:
    """The checkpoint to resume from (None: start at step 0), applying the policy of the module docstring.

    resume: "auto" (the default; None means the same), "none" to start at step 0, or a checkpoint folder."""
    scan = scan_checkpoints(output_dir)
    if fresh:
        if scan.everything:
            _say(
                f"--fresh: deleting {len(scan.everything)} checkpoint folder(s) of the earlier run in {output_dir}:"
            )
            for path in scan.everything:
                _say(f"  delete {path}")
            # Every rank computes the same answer; only one deletes, so no two processes remove the same tree.
            if _is_main_process():
                for path in scan.everything:
                    shutil.rmtree(path, ignore_errors=True)
        return None
    # A .partial- folder is a save that never finished: it is never resumed from.
    if scan.partial and _is_main_process():
        for path in scan.partial:
            _say(f"removing {path}: a checkpoint save that was interrupted")
            shutil.rmtree(path, ignore_errors=True)
    for step, path in scan.incomplete:
        _say(f"skipping {path}: incomplete (no {STATE_FILE}), not resumable")
    mode = (resume or "auto").strip()
    if mode.lower() == "auto":
        if scan.newest is not None:
            _say(f"resuming from {scan.newest} (the newest complete checkpoint; --fresh starts over)")
            return str(scan.newest)
        if scan.incomplete:
            raise UsageError(
                f"{output_dir} holds only incomplete checkpoints ({', '.join(p.name for _, p in scan.incomplete)}); "
                "starting from step 0 there could delete them",
                hint="pass --fresh to delete them and start over, or choose another --output_dir",
            )
        _say("no checkpoint yet in the output folder: starting from step 0")
        return None
    if mode.lower() in _NO_RESUME:
        if scan.complete or scan.incomplete:
            names = ", ".join(p.name for p in scan.everything)
            raise UsageError(
                f"{output_dir} holds checkpoints of an earlier run ({names}); a run from step 0 there would "
                "mix the two runs and its checkpoint rotation could delete them",
                hint="resume (the default: --resume_from_checkpoint auto), pass --fresh to delete them and start "
                "over, or choose another --output_dir",
            )
        return None
    path = Path(mode)
    if not path.is_dir():
        raise UsageError(
            f"--resume_from_checkpoint {mode}: not a folder", hint="pass auto, none or a checkpoint-N"
        )
    if not (path / STATE_FILE).is_file():
        raise UsageError(
            f"--resume_from_checkpoint {mode}: incomplete checkpoint (no {STATE_FILE})",
            hint=f"use --resume_from_checkpoint auto (the newest complete one: {scan.newest or 'none yet'})",
        )
    return str(path)


def stage_dir(run_dir: str | Path, step: int) -> Path:
    """The staging folder a save of step `step` is written into (its checkpoint-N inside)."""
    return Path(run_dir) / f"{PARTIAL_PREFIX}checkpoint-{step}"


def publish_checkpoint(run_dir: str | Path, step: int) -> Path:
    """Move the complete `stage_dir(run_dir, step)/checkpoint-N` to `run_dir/checkpoint-N` with one rename
    (atomic on POSIX); an existing folder of the same step is replaced. Returns the final path."""
    staging = stage_dir(run_dir, step)
    final = Path(run_dir) / f"checkpoint-{step}"
    if final.exists():
        old = Path(run_dir) / f"{PARTIAL_PREFIX}old-checkpoint-{step}"
        # Replace a checkpoint of the same step (a rerun) with renames:
        # the old one is deleted only after the new one is in place.
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        (staging / final.name).rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        (staging / final.name).rename(final)
    shutil.rmtree(staging, ignore_errors=True)
    return final
