"""Cases 1 and 3: a resumed result file never mixes runs, and a torn last row is dropped and redone.

- Retraining a model into the same folder and re-evaluating with the default `--out` used to report the old
  model's scores; now the rerun refuses, naming what differs, and `--overwrite` gives the fresh run's numbers.
- A kill -9 or a full disk (ENOSPC) in the middle of a row: the rows before are kept, the torn one is dropped
  with a notice and redone; nothing is duplicated.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import signal
import subprocess
import sys

import pytest

from cdreasoning.cli import main
from cdreasoning.data.pair_lists import PairSpec
from cdreasoning.data.result_store import ResultLog
from cdreasoning.model.presets import write_checkpoint
from tests.reliability.conftest import REPO_ROOT

PAIRS = [("img0.png", "img1.png", 1.5), ("img2.png", "img3.png", 4.0), ("img4.png", "img5.png", 9.0),
         ("img1.png", "img2.png", 2.2), ("img3.png", "img4.png", 13.0), ("img5.png", "img0.png", 7.1)]  # fmt: skip


@pytest.fixture
def test_csv(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("".join(f"{a},{b},{dv}\n" for a, b, dv in PAIRS))
    return path


def _rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _eval_score(model, data, images, out, *extra):
    return main(["eval", "score", "--model-path", str(model), "--data", str(data), "--image-folder", str(images),
                 "--out", str(out), "--device", "cpu", *extra])  # fmt: skip


def test_a_model_retrained_into_the_same_folder_is_not_resumed(tmp_path, test_csv, images, capsys):
    model = write_checkpoint("tiny", tmp_path / "models" / "cd", seed=0)
    out = tmp_path / "eval"
    assert _eval_score(model, test_csv, images, out) == 0
    first = [r["score"] for r in _rows(out / "scores.csv")]
    assert (out / "scores.csv.provenance.json").is_file()

    write_checkpoint("tiny", model, seed=1, overwrite=True)  # "retrain" into the same folder name
    capsys.readouterr()
    assert _eval_score(model, test_csv, images, out) == 2
    err = capsys.readouterr().err
    assert f"error: {out / 'scores.csv'}: refusing to resume, made by a different model or settings:" in err
    assert "model.files.model.safetensors:" in err
    assert "hint: pass --overwrite to discard its rows, or write to a new --out" in err
    assert [r["score"] for r in _rows(out / "scores.csv")] == first  # nothing touched

    assert _eval_score(model, test_csv, images, out, "--overwrite") == 0
    fresh = tmp_path / "fresh"
    assert _eval_score(model, test_csv, images, fresh) == 0
    assert [r["score"] for r in _rows(out / "scores.csv")] == [
        r["score"] for r in _rows(fresh / "scores.csv")
    ]
    assert [r["score"] for r in _rows(out / "scores.csv")] != first


def test_other_prompt_settings_are_not_resumed(tiny_checkpoint, tmp_path, images, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img0.png,img1.png\nimg2.png,img3.png\n")
    argv = ["score", "--model-path", str(tiny_checkpoint), "--device", "cpu", "--pairs", str(pairs),
            "--image-folder", str(images), "--out", str(tmp_path / "s.csv")]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--question", "How different are the colours?", "--conv-template", "mplug_owl2"]) == 2
    err = capsys.readouterr().err
    assert "conv_template: 'v1' → 'mplug_owl2'" in err
    assert "question: 'Rate the color difference" in err or "question: " in err
    assert main(argv) == 0  # the original settings resume


def test_a_full_disk_mid_row_keeps_the_rows_before_and_redoes_the_torn_one(
    tiny_checkpoint, tmp_path, images, monkeypatch, capsys
):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("".join(f"{a},{b}\n" for a, b, _ in PAIRS))
    out = tmp_path / "scores.csv"
    argv = ["score", "--model-path", str(tiny_checkpoint), "--device", "cpu", "--pairs", str(pairs),
            "--image-folder", str(images), "--out", str(out), "--batch-size", "1"]  # fmt: skip

    class FullDisk:
        """A file whose next write stores half its text, then fails as a full disk does."""

        def __init__(self, handle):
            self.handle = handle

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            self.handle.flush()

        def close(self):
            self.handle.close()

    original = ResultLog.write
    calls = []

    def write(self, pair, values, error=None):
        calls.append(pair.index)
        if len(calls) == 3:
            self._handle = FullDisk(self._handle)
        return original(self, pair, values, error)

    monkeypatch.setattr(ResultLog, "write", write)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {out}: cannot write the row of pair 2 (No space left on device)" in err
    assert "Traceback" not in err
    before = out.read_text()
    assert not before.endswith("\n")  # the torn row is there
    kept = before[: before.rfind("\n") + 1]

    monkeypatch.setattr(ResultLog, "write", original)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{out}: dropped a torn last row" in err and "resuming: 2 of 6 pairs" in err
    after = out.read_text()
    assert after.startswith(kept)  # rows before the tear kept as they were
    assert [int(r["pair_index"]) for r in _rows(out)] == list(range(6))
    assert all(r["score"] and not r["error"] for r in _rows(out))


_KILLED_MID_ROW = """
import os, signal, sys
from cdreasoning.data.result_store import ResultLog
from cdreasoning.cli import main

original, count = ResultLog.write, [0]

def write(self, pair, values, error=None):
    count[0] += 1
    if count[0] == 4:  # write half of this row to the file, then die the hard way
        class Torn:
            def __init__(self, handle): self.handle = handle
            def write(self, text):
                self.handle.write(text[: len(text) // 2]); self.handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            def flush(self): self.handle.flush()
        self._handle = Torn(self._handle)
    return original(self, pair, values, error)

ResultLog.write = write
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_while_scoring_then_rerun(tiny_checkpoint, tmp_path, images, test_csv, capsys):
    out = tmp_path / "eval"
    argv = ["eval", "score", "--model-path", str(tiny_checkpoint), "--data", str(test_csv), "--image-folder",
            str(images), "--out", str(out), "--device", "cpu", "--batch-size", "1"]  # fmt: skip
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_ROW, *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    torn = (out / "scores.csv").read_text()
    assert torn.count("\n") == 4 and not torn.endswith("\n")  # header + 3 rows + half a row

    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "dropped a torn last row" in err and "resuming: 3 of 6 pairs" in err
    rows = _rows(out / "scores.csv")
    assert [int(r["pair_index"]) for r in rows] == list(range(6))
    reference = tmp_path / "reference"
    assert main([*argv[:-6], "--out", str(reference), "--device", "cpu", "--batch-size", "1"]) == 0
    assert [r["score"] for r in rows] == [r["score"] for r in _rows(reference / "scores.csv")]


@pytest.mark.parametrize(
    "cut", [3, 12, 30, -2], ids=["in-index", "in-image-name", "in-score", "before-newline"]
)
def test_torn_row_anywhere_is_dropped_not_the_file(tmp_path, cut, capsys):
    pairs = [PairSpec(i, f"image_{i}_a.png", f"image_{i}_b.png") for i in range(3)]
    path = tmp_path / "r.csv"
    log = ResultLog(path, pairs, ["score"])
    for pair in pairs:
        log.write(pair, {"score": 1.25 * pair.index})
    log._handle.close()
    text = path.read_text()
    last = text.rstrip("\n").rfind("\n") + 1
    path.write_text(text[: last + cut] if cut > 0 else text[: cut + 1])
    reopened = ResultLog(path, pairs, ["score"])
    assert [reopened.done(i) for i in range(3)] == [True, True, False]
    assert "dropped a torn last row" in capsys.readouterr().err
    reopened.write(pairs[2], {"score": 2.5})
    reopened.finalize()
    assert [r["score"] for r in _rows(path)] == ["0.0", "1.25", "2.5"]


def test_baseline_cache_of_other_settings_is_refused(tmp_path, images, test_csv, capsys):
    out = tmp_path / "baseline"
    argv = ["eval", "baseline", "--pairs", str(test_csv), "--image-folder", str(images), "--out", str(out),
            "--workers", "0", "--no-progress"]  # fmt: skip
    assert main([*argv, "--method", "ciede2000"]) == 0
    capsys.readouterr()
    assert main([*argv, "--method", "cie76"]) == 2
    err = capsys.readouterr().err
    assert "method was 'ciede2000', now 'cie76'" in err and "--overwrite" in err
    shutil.rmtree(out)


def test_cdflow_test_results_of_another_checkpoint_are_refused(synth_set, tmp_path, capsys):
    from cdreasoning.cdflow.test import main as cdflow_test
    from cdreasoning.cdflow.train import main as cdflow_train

    data = ["--training_datadir", str(synth_set / "images"), "--datapath", str(synth_set), "--preset", "tiny",
            "--image_size", "16", "--no_progress", "--no_tensorboard", "--max_steps", "0", "--no_test"]  # fmt: skip
    for name in ("a", "b"):  # two runs: two checkpoints with their own fingerprints
        assert cdflow_train([*data, "--work_path", str(tmp_path / name)]) == 0
    out = tmp_path / "test"
    common = ["--training_datadir", str(synth_set / "images"), "--datapath", str(synth_set), "--out", str(out),
              "--no_progress", "--eval_size", "16"]  # fmt: skip
    assert cdflow_test([*common, "--checkpoint", str(tmp_path / "a" / "best.pt")]) == 0
    capsys.readouterr()
    assert cdflow_test([*common, "--checkpoint", str(tmp_path / "b" / "best.pt")]) == 2
    err = capsys.readouterr().err
    assert "holds CD-Flow test results of another checkpoint or settings (checkpoint_fingerprint:" in err
    assert "hint: pass --overwrite to discard them, or write to a new --out" in err
    assert cdflow_test([*common, "--checkpoint", str(tmp_path / "b" / "best.pt"), "--overwrite"]) == 0
