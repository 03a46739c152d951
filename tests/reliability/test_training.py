"""Case 2: training resumes by default, a kill during a checkpoint save never leaves a checkpoint that looks
resumable, and a run from step 0 never deletes (or mixes with) another run's checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cdreasoning.errors import UsageError
from cdreasoning.train.checkpoints import resolve_resume, scan_checkpoints
from cdreasoning.train.finetune import main as train
from tests.reliability.conftest import REPO_ROOT, train_argv

# Runs `cdreasoning train` but stops for good in the middle of the save of step STOP_AT (after the weights and
# the optimizer are written, before the trainer state): the parent kills it there with SIGKILL.
_STALLED_SAVE = """
import os, sys, time
from cdreasoning.train.trainer import CDTrainer
from cdreasoning.train.finetune import main

original = CDTrainer._save_rng_state

def stalled(self, output_dir):
    original(self, output_dir)
    if self.state.global_step == int(os.environ["STOP_AT"]):
        open(os.environ["MARKER"], "w").close()
        time.sleep(600)

CDTrainer._save_rng_state = stalled
sys.exit(main(sys.argv[1:]))
"""


def _state(folder):
    return json.loads((folder / "trainer_state.json").read_text())


def test_kill_during_a_checkpoint_save_then_a_plain_rerun_resumes(
    tiny_checkpoint, synth_set, tmp_path, capsys
):
    out, marker = tmp_path / "run", tmp_path / "stalled"
    argv = train_argv(tiny_checkpoint, synth_set, out, "--max_steps", "6", "--save_steps", "2")
    env = {**os.environ, "STOP_AT": "4", "MARKER": str(marker), "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen([sys.executable, "-c", _STALLED_SAVE, *argv], cwd=REPO_ROOT, env=env)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert process.poll() is None, "training ended before the stalled save"
            assert time.monotonic() < deadline, "the stalled save was never reached"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    scan = scan_checkpoints(out)
    assert [step for step, _ in scan.complete] == [2]  # the half-written step 4 is not a checkpoint-4
    assert [p.name for p in scan.partial] == [".partial-checkpoint-4"]
    assert not scan.incomplete

    # the plain command again (no --resume_from_checkpoint): resumes from checkpoint-2, not from step 0
    assert train(argv) == 0
    err = capsys.readouterr().err
    assert "removing" in err and ".partial-checkpoint-4" in err
    assert f"resuming from {out / 'checkpoint-2'}" in err
    state = _state(out)
    assert state["global_step"] == 6
    logged = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert logged[0] == 1 and logged[-1] == 6 and len(logged) == len(set(logged)) == 6
    assert [step for step, _ in scan_checkpoints(out).complete] == [2, 4, 6]
    assert not scan_checkpoints(out).partial


def _fake_checkpoint(folder, step, complete=True):
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"weights")
    if complete:
        (path / "trainer_state.json").write_text("{}")
    return path


def test_auto_skips_an_incomplete_checkpoint_and_falls_back(tmp_path, capsys):
    _fake_checkpoint(tmp_path, 100)
    _fake_checkpoint(tmp_path, 200, complete=False)  # e.g. left by an older version killed mid-save
    assert resolve_resume(tmp_path, None) == str(tmp_path / "checkpoint-100")
    err = capsys.readouterr().err
    assert "skipping" in err and "checkpoint-200" in err
    with pytest.raises(UsageError, match="incomplete checkpoint"):
        resolve_resume(tmp_path, str(tmp_path / "checkpoint-200"))


def test_a_run_from_step_0_never_deletes_another_runs_checkpoints(tmp_path):
    kept = _fake_checkpoint(tmp_path, 300)
    with pytest.raises(UsageError, match="holds checkpoints of an earlier run") as info:
        resolve_resume(tmp_path, "none")
    assert "--fresh" in info.value.hint
    only_incomplete = tmp_path / "other"
    _fake_checkpoint(only_incomplete, 5, complete=False)
    with pytest.raises(UsageError, match="only incomplete checkpoints"):
        resolve_resume(only_incomplete, "auto")
    assert (kept / "model.safetensors").is_file()


def test_fresh_lists_what_it_deletes(tmp_path, capsys):
    first = _fake_checkpoint(tmp_path, 10)
    second = _fake_checkpoint(tmp_path, 20, complete=False)
    assert resolve_resume(tmp_path, "auto", fresh=True) is None
    err = capsys.readouterr().err
    assert f"delete {first}" in err and f"delete {second}" in err
    assert not first.exists() and not second.exists()


def test_launcher_passes_no_step_0_override():
    # scripts/finetune*.sh end in `cdreasoning train`, whose default is to resume; they must not force step 0
    for script in ("finetune.sh", "finetune_lora.sh", "_train_common.sh"):
        text = (REPO_ROOT / "scripts" / script).read_text()
        assert "--resume_from_checkpoint none" not in text and "overwrite_output_dir" not in text
