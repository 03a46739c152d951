"""Case 9 (and 4, 7): the smaller silent cases now fail or warn.

- an empty data file fails `data check`; `train` refuses duplicate ids, unknown level words and bad images
  before step 0 (the same check as `data check`, cached per file; `--skip_data_check` skips it);
- a depict ground truth with an unknown severity word fails `data check`, and `eval describe` stops before
  generating anything, naming an option it has;
- 2-D metric inputs are refused; `eval baseline --max-side 0` warns about memory on large images;
- CD-Flow removes a temp file left by an interrupted save and logs a resumed epoch once.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from cdreasoning import metrics
from cdreasoning.data import check_dataset
from cdreasoning.errors import DataError
from cdreasoning.train.finetune import main as train
from tests.reliability.conftest import train_argv


def test_empty_data_file_fails_data_check(tmp_path, capsys):
    from cdreasoning.cli import main

    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(DataError, match="no records"):
        check_dataset(empty, check_images=False)
    assert main(["data", "check", str(empty), "--no-images"]) == 2
    assert f"error: {empty}: no records" in capsys.readouterr().err


def _records(synth):
    return json.loads((synth / "train_mix.json").read_text())


def _train_refuses(tiny_checkpoint, synth_set, tmp_path, records, capsys):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(records))
    argv = train_argv(tiny_checkpoint, synth_set, tmp_path / "out", "--max_steps", "1")
    argv[argv.index("--data_path") + 1] = str(data)
    assert train(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"error: {data}:" in err and "problem(s) found before training" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()
    return err


def test_train_refuses_duplicate_ids_before_step_0(tiny_checkpoint, synth_set, tmp_path, capsys):
    records = _records(synth_set)[:6]
    records[3]["id"] = records[1]["id"]
    err = _train_refuses(tiny_checkpoint, synth_set, tmp_path, records, capsys)
    assert f"[duplicate-id] record #3 (id {records[1]['id']!r}): id already used by record #1" in err


def test_train_refuses_unknown_level_words(tiny_checkpoint, synth_set, tmp_path, capsys):
    records = _records(synth_set)[:6]
    score = next(i for i, r in enumerate(records) if "color difference" in r["conversations"][-1]["value"])
    records[score]["conversations"][-1]["value"] = "The color difference between these two images is huge."
    err = _train_refuses(tiny_checkpoint, synth_set, tmp_path, records, capsys)
    assert f"[unknown-level] record #{score}" in err


def test_train_refuses_a_bad_image_before_step_0(tiny_checkpoint, synth_set, tmp_path, capsys):
    records = _records(synth_set)[:6]
    images = tmp_path / "images"
    shutil.copytree(synth_set / "images", images)
    broken = images / records[4]["image"][1]
    broken.write_bytes(broken.read_bytes()[:100])  # a truncated PNG: training used to die on it mid-epoch
    data = tmp_path / "train.json"
    data.write_text(json.dumps(records))
    argv = train_argv(tiny_checkpoint, synth_set, tmp_path / "out", "--max_steps", "1")
    argv[argv.index("--data_path") + 1] = str(data)
    argv[argv.index("--image_folder") + 1] = str(images)
    assert train(argv) == 2
    assert "[unreadable-image] record #4" in capsys.readouterr().err


def test_data_check_is_cached_per_file_and_can_be_skipped(tiny_checkpoint, synth_set, tmp_path, capsys):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(_records(synth_set)[:8]))
    out = tmp_path / "out"
    argv = train_argv(tiny_checkpoint, synth_set, out, "--max_steps", "1", "--save_steps", "1")
    argv[argv.index("--data_path") + 1] = str(data)
    assert train(argv) == 0
    assert "checking" in capsys.readouterr().out
    cache = json.loads((out / "data_check.json").read_text())
    assert cache[str(data.resolve())]["records"] == 8
    assert train([*argv, "--max_steps", "2"]) == 0  # resumed: the same file is not checked again
    assert "checking" not in capsys.readouterr().out
    data.write_text(json.dumps(_records(synth_set)[:8] + [_records(synth_set)[0]]))  # a duplicate id
    assert train([*argv, "--max_steps", "3", "--skip_data_check"]) == 0
    assert "checking" not in capsys.readouterr().out


def test_depict_ground_truth_with_an_unknown_severity_word(tiny_checkpoint, images, tmp_path, capsys):
    from cdreasoning.cli import main

    answer = (
        "The two images exhibit slight variations in white balance, severe differences in brightness contrast, "
        "moderate color contrast, moderate overall brightness, and slight differences in overall color. Dark "
        "details show moderate distinctions, light details also have extreme variations."
    )  # "extreme" is no severity word: bright details stay unrated
    records = [
        {"question_id": f"{i:03d}", "image": [f"img{i}.png", f"img{i + 1}.png"], "text": "Describe the difference.",
         "human_answer": answer.replace("extreme", "moderate") if i else answer}
        for i in range(3)
    ]  # fmt: skip
    data = tmp_path / "depict_test.json"
    data.write_text(json.dumps(records))
    report = check_dataset(data, check_images=False)
    assert [(p.kind, p.index) for p in report.problems] == [("unrated-severity", 0)]
    assert "bright_details" in report.problems[0].message
    assert main(["data", "check", str(data), "--no-images"]) == 1

    out = tmp_path / "eval"
    argv = ["eval", "describe", "--model-path", str(tiny_checkpoint), "--data", str(data), "--image-folder",
            str(images), "--out", str(out), "--device", "cpu", "--max-new-tokens", "4"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "reference 0 (id 000): no severity for bright_details" in err
    assert "--allow-incomplete-references" in err and "require_complete_references" in err
    assert not (out / "generations.jsonl").exists()  # nothing was generated
    assert main([*argv, "--allow-incomplete-references"]) == 0


def test_metrics_refuse_2d_inputs():
    pred, human = np.arange(1.0, 6.0), np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert metrics.srcc(pred, human) == pytest.approx(0.8)  # 1 − 6·4/(5·24), by hand
    for function in (metrics.srcc, metrics.plcc, metrics.krcc, metrics.stress, metrics.rmse):
        with pytest.raises(ValueError, match=r"one value per pair .* shape \(5, 1\)"):
            function(pred[:, None], human)
        with pytest.raises(ValueError, match=r"shape \(1, 5\)"):
            function(pred, human[None, :])


def test_baseline_max_side_0_warns_about_memory(tmp_path):
    from cdreasoning.evaluate.baseline import native_size_memory_warning

    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (40, 30)).save(small)
    Image.new("RGB", (8000, 8000)).save(large)  # constant: a small file, only its header is read
    assert native_size_memory_warning([small], workers=4) is None
    warning = native_size_memory_warning([small, large], workers=2)
    assert (
        f"the largest ({large}, 8000×8000) needs about 11.7 GB per pair, 23.4 GB with 2 worker(s)" in warning
    )


def test_cdflow_removes_a_stale_temp_file_and_logs_a_resumed_epoch_once(synth_set, tmp_path, capsys):
    from cdreasoning.cdflow.train import main as cdflow_train

    work = tmp_path / "w"
    argv = ["--training_datadir", str(synth_set / "images"), "--datapath", str(synth_set), "--work_path",
            str(work), "--preset", "tiny", "--image_size", "16", "--no_progress", "--no_tensorboard",
            "--no_test"]  # fmt: skip
    assert cdflow_train([*argv, "--epochs", "1"]) == 0
    # a kill after the epoch-2 log line but before last.pt was written, during the save of best.pt
    log = work / "log.jsonl"
    log.write_text(log.read_text() + json.dumps({"epoch": 2, "global_step": 99}) + "\n")
    stale = work / ".best.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert cdflow_train([*argv, "--epochs", "2"]) == 0
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [1, 2]
    assert not stale.exists()
    assert "removing" in capsys.readouterr().err
