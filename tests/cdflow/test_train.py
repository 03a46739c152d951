"""`cdflow train` / `cdflow test` end to end on the synthetic set: resume, learning, report, metric, errors.

Timings on this 2-core machine (one torch thread, another process computing): the learning test trains the
`small` preset at 32 px for 4 epochs (108 steps) in ~13 s; the whole module runs in well under a minute.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cdreasoning.cdflow import CDFlowMetric, load_checkpoint, model_from_checkpoint, train_loop, train_setup
from cdreasoning.cdflow.cli import main as cdflow_main
from cdreasoning.cdflow.test import main as run_test_command
from cdreasoning.cdflow.train import main as train_main
from cdreasoning.cdflow.train_settings import settings_from_argv
from cdreasoning.cli import main as cli_main
from cdreasoning.evaluate.baseline import BaselineConfig, run_baseline
from cdreasoning.evaluate.compare import compare_results

QUIET = ["--no_progress", "--no_tensorboard"]


def _data_args(synth: Path) -> list[str]:
    return ["--training_datadir", str(synth / "images"), "--datapath", str(synth)]


def _small_split(synth: Path, folder: Path, n_train: int = 10) -> Path:
    """A datapath with the first n_train training pairs (3 steps per epoch at batch 4) and the real val/test."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (synth / "train.csv").read_text().splitlines()[:n_train]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    for name in ("val.csv", "test.csv"):
        (folder / name).write_text((synth / name).read_text())
    return folder


# --- command line -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["train", "--help"], ["test", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cdflow_main(argv)
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--training_datadir", "--work_path", "--datapath", "--device"):
        assert flag in text
    if argv[0] == "train":
        for flag in (
            "--batch_size_train",
            "--epochs",
            "--lr",
            "--ema",
            "--image_size",
            "--resume",
            "--preset",
        ):
            assert flag in text
    else:
        for flag in ("--checkpoint", "--test_csv", "--out", "--batch_size_test"):
            assert flag in text


def test_dispatch_from_the_project_cli(capsys):
    assert cli_main(["cdflow", "--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert cli_main(["cdflow", "fly"]) == 2
    assert "cdreasoning cdflow: unknown command 'fly'" in capsys.readouterr().err


# --- setup --------------------------------------------------------------------------------------------------


def test_ema_copy_is_taken_after_actnorm_init(synth_set, tmp_path):
    settings = settings_from_argv(
        [*_data_args(synth_set), "--work_path", str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16"]
    )
    run, _ = train_setup.setup(settings)
    assert run.model.is_initialized
    loc = run.model.scales[0].steps[0].actnorm.loc
    assert loc.abs().sum() > 0  # data-dependent: −mean of the first batch
    assert torch.equal(run.ema.shadow["scales.0.steps.0.actnorm.loc"], loc.detach())
    assert torch.equal(
        run.ema.shadow["scales.0.steps.0.actnorm.scale"], run.model.scales[0].steps[0].actnorm.scale
    )


# --- resume -------------------------------------------------------------------------------------------------


def test_resume_equals_an_uninterrupted_run(synth_set, tmp_path):
    """7 steps straight vs 4 steps, stop, resume to 7 — across epoch ends (3 steps per epoch), LR decay and
    validation: the weights, the EMA and the optimizer state are the same."""
    data = _small_split(synth_set, tmp_path / "data")
    common = [
        "--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--preset", "tiny",
        "--image_size", "16", "--batch_size_train", "4", "--lr", "1e-3", "--lr_decay_epochs", "1",
        "--epochs", "5", "--no_test", *QUIET,
    ]  # fmt: skip
    assert train_main([*common, "--work_path", str(tmp_path / "straight"), "--max_steps", "7"]) == 0
    assert train_main([*common, "--work_path", str(tmp_path / "resumed"), "--max_steps", "4"]) == 0
    interrupted = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert (interrupted["progress"]["epoch"], interrupted["progress"]["step_in_epoch"]) == (1, 1)
    assert train_main([*common, "--work_path", str(tmp_path / "resumed"), "--max_steps", "7"]) == 0

    a, b = (
        load_checkpoint(tmp_path / "straight" / "last.pt"),
        load_checkpoint(tmp_path / "resumed" / "last.pt"),
    )
    assert a["progress"]["global_step"] == b["progress"]["global_step"] == 7
    assert a["progress"]["epoch"] == b["progress"]["epoch"] == 2
    # bitwise equal (measured); the data order, augmentation and noise are functions of (seed, epoch, pair)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key in a["ema"]["shadow"]:
        assert torch.equal(a["ema"]["shadow"][key], b["ema"]["shadow"][key]), key
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 2
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"] == 2.5e-4
    for index, state in a["optimizer"]["state"].items():
        assert torch.allclose(state["exp_avg_sq"], b["optimizer"]["state"][index]["exp_avg_sq"], atol=1e-9)


def test_resume_refuses_other_settings_and_none_refuses_to_overwrite(synth_set, tmp_path, capsys):
    data = _small_split(synth_set, tmp_path / "data")
    base = ["--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--work_path",
            str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16", "--no_test", *QUIET]  # fmt: skip
    assert train_main([*base, "--max_steps", "1"]) == 0
    capsys.readouterr()
    assert train_main([*base, "--max_steps", "2", "--lr", "1e-3"]) == 2
    assert "lr: saved 1e-05, asked 0.001" in capsys.readouterr().err
    assert train_main([*base, "--max_steps", "2", "--preset", "small"]) == 2
    assert "config: saved" in capsys.readouterr().err
    assert train_main([*base, "--max_steps", "2", "--resume", "none"]) == 2
    assert "--resume auto to continue it" in capsys.readouterr().err
    # a best.pt holds no optimizer state: it cannot be resumed from
    assert train_main([*base, "--max_steps", "2", "--resume", str(tmp_path / "w" / "best.pt")]) == 2
    assert "resume from a last.pt" in capsys.readouterr().err


# --- errors -------------------------------------------------------------------------------------------------


def test_data_errors_name_the_file_and_line(synth_set, tmp_path, capsys):
    data = _small_split(synth_set, tmp_path / "data")
    lines = (data / "train.csv").read_text().splitlines()
    lines[2] = "I9999_01_01.png," + lines[2].split(",", 1)[1]
    (data / "train.csv").write_text("\n".join(lines) + "\n")
    argv = ["--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--work_path",
            str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16", *QUIET]  # fmt: skip
    assert train_main(argv) == 2
    err = capsys.readouterr().err
    assert f"{data / 'train.csv'}:3: image" in err and "I9999_01_01.png not found" in err
    (data / "train.csv").write_text("a.png,b.png\n")
    assert train_main(argv) == 2
    assert "train.csv:1: expected 3 fields" in capsys.readouterr().err
    _small_split(synth_set, data)
    assert train_main([*argv, "--image_size", "18"]) == 2
    assert "--image-size 18 is not a multiple of 2**scales = 4" in capsys.readouterr().err
    assert (
        run_test_command(
            ["--training_datadir", str(synth_set / "images"), "--work_path", str(tmp_path / "none")]
        )
        == 2
    )
    assert "best.pt: checkpoint not found" in capsys.readouterr().err


# --- learning, report, metric -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(synth_set, tmp_path_factory):
    """The `small` preset trained at 32 px for 4 epochs (108 steps) on 210 synthetic pairs, tested at 40 px;
    and the same model untrained (--max_steps 0: ActNorm initialised, no step), tested likewise."""
    root = tmp_path_factory.mktemp("cdflow_runs")
    common = [*_data_args(synth_set), "--preset", "small", "--image_size", "32", "--batch_size_train", "8",
              "--lr", "2e-3", *QUIET]  # fmt: skip
    assert train_main([*common, "--work_path", str(root / "untrained"), "--max_steps", "0"]) == 0
    assert train_main([*common, "--work_path", str(root / "trained"), "--epochs", "4"]) == 0
    return root


def _srcc(report_dir: Path, subset: str = "all") -> float:
    report = json.loads((report_dir / "metrics.json").read_text())
    return report["subsets"][subset]["delta_v"]["srcc"]


def test_training_learns_colour_difference(trained):
    """Held-out (test-scene) pairs, measured here: untrained SRCC 0.42 (the initial flow is close to a
    per-pixel linear map, so ΔE starts as a weighted RMS pixel difference); after 108 steps 0.82
    (CIEDE2000 on the same pairs: 0.79)."""
    untrained, learned = _srcc(trained / "untrained" / "test"), _srcc(trained / "trained" / "test")
    assert learned > 0.6, learned
    assert learned > untrained + 0.15, (untrained, learned)
    log = [json.loads(line) for line in (trained / "trained" / "log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [1, 2, 3, 4]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert any(entry["best"] for entry in log)
    assert (trained / "trained" / "tensorboard").exists() is False  # --no_tensorboard


def test_test_command_writes_the_score_report(trained, synth_set, tmp_path, capsys):
    out = tmp_path / "cdflow"
    argv = ["--dataset", str(synth_set / "images"), "--datapath", str(synth_set), "--work_path",
            str(trained / "trained"), "--out", str(out), "--batch_size_test", "8", "--no_progress"]  # fmt: skip
    assert run_test_command(argv) == 0
    printed = capsys.readouterr().out
    assert "aligned" in printed and "not_aligned" in printed
    report = json.loads((out / "metrics.json").read_text())
    assert report["method"] == "cdflow" and report["prediction_space"] == "delta_v"
    assert {k: v["n_pairs"] for k, v in report["subsets"].items()} == {
        "all": 60,
        "aligned": 40,
        "not_aligned": 20,
    }
    for subset in ("all", "aligned", "not_aligned"):
        assert set(report["subsets"][subset]["delta_v"]) >= {"stress", "plcc", "srcc"}
    with (out / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60
    # the same numbers as the test run at the end of training
    assert _srcc(out) == pytest.approx(_srcc(trained / "trained" / "test"), abs=1e-12)

    # rerun: everything comes from the cache
    assert run_test_command(argv) == 0
    assert "60 cached, 0 to score" in capsys.readouterr().out

    # `eval compare` puts it next to a baseline computed on the same pairs
    run_baseline(synth_set / "test.csv", synth_set / "images", tmp_path / "ciede2000",
                 BaselineConfig(method="ciede2000"), workers=1, progress=False, echo=False)  # fmt: skip
    board = compare_results([tmp_path / "ciede2000", out])
    assert [entry["label"] for entry in board.entries] == ["ciede2000", "cdflow"]
    assert board.n_pairs == 60


def test_metric_api_batched_equals_one_by_one_and_matches_the_test(trained, synth_set):
    metric = CDFlowMetric.from_checkpoint(trained / "trained" / "best.pt", device="cpu")
    assert metric.eval_size == 40
    pairs = [line.split(",") for line in (synth_set / "test.csv").read_text().splitlines()[:6]]
    paths_a = [synth_set / "images" / a for a, _, _ in pairs]
    paths_b = [synth_set / "images" / b for _, b, _ in pairs]
    batched = metric(paths_a, paths_b)
    single = torch.cat([metric(a, b) for a, b in zip(paths_a, paths_b)])
    assert batched.shape == (6,)
    assert torch.allclose(batched, single, rtol=1e-5)
    with (trained / "trained" / "test" / "predictions.csv").open() as handle:
        reported = {(r["image_a"], r["image_b"]): float(r["prediction"]) for r in csv.DictReader(handle)}
    expected = torch.tensor([reported[(a, b)] for a, b, _ in pairs], dtype=torch.float32)
    assert torch.allclose(batched, expected, rtol=1e-5)

    # tensors: used as given; identical images are at distance 0; a clear error for a bad size
    x = torch.rand(3, 3, 40, 40)
    assert torch.equal(metric(x, x), torch.zeros(3))
    assert torch.allclose(metric(x, x.flip(0)), torch.cat([metric(x[i], x.flip(0)[i]) for i in range(3)]))
    with pytest.raises(ValueError, match="multiples of 2\\*\\*3 = 8"):
        metric(torch.rand(1, 3, 36, 40), torch.rand(1, 3, 36, 40))
    # in-memory images follow the file rules
    from cdreasoning.data.images import read_rgb

    arrays = metric(read_rgb(paths_a[0]), read_rgb(paths_b[0]))
    assert torch.allclose(arrays, batched[:1], rtol=1e-6)


def test_checkpoints_rebuild_the_model_without_flags(trained):
    best = load_checkpoint(trained / "trained" / "best.pt")
    assert best["kind"] == "best" and best["config"] == {"scales": 3, "steps": 4, "width": 32}
    assert (best["image_size"], best["eval_size"]) == (32, 40)
    model, info = model_from_checkpoint(trained / "trained" / "last.pt")
    assert info["kind"] == "last" and not model.training
    # last.pt used as a metric gives its EMA weights
    last = load_checkpoint(trained / "trained" / "last.pt")
    key = "scales.0.steps.0.coupling.net.0.weight"
    assert torch.equal(dict(model.state_dict())[key], last["ema"]["shadow"][key])
    assert not np.allclose(last["ema"]["shadow"][key].numpy(), last["model"][key].numpy())


def test_ctrl_c_saves_and_the_rerun_resumes(synth_set, tmp_path, monkeypatch, capsys):
    """A SIGINT during step 2 lets the step finish, saves last.pt and exits 130; rerunning continues."""
    import signal

    data = _small_split(synth_set, tmp_path / "data")
    argv = ["--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--work_path",
            str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16", "--batch_size_train", "4",
            "--epochs", "2", "--no_test", *QUIET]  # fmt: skip
    original, calls = train_loop.train_step, []

    def interrupted_step(*args):
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)
        return original(*args)

    monkeypatch.setattr(train_loop, "train_step", interrupted_step)
    # default_int_handler, or SIG_IGN when the test run was started in the background (nohup … &)
    handler_before = signal.getsignal(signal.SIGINT)
    assert train_main(argv) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "w" / "last.pt")["progress"]["global_step"] == 2
    monkeypatch.setattr(train_loop, "train_step", original)
    assert train_main(argv) == 0
    assert load_checkpoint(tmp_path / "w" / "last.pt")["progress"]["global_step"] == 6
    assert signal.getsignal(signal.SIGINT) == handler_before  # the handler is restored


def test_unreadable_image_in_a_loader_worker_is_a_clean_error(synth_set, tmp_path, capsys):
    import shutil

    images = tmp_path / "images"
    shutil.copytree(synth_set / "images", images)
    data = _small_split(synth_set, tmp_path / "data", n_train=4)
    # pair 0 (line 1) is in the second batch of epoch 0 at seed 100: read by the worker, not by the ActNorm
    # initialisation (first batch, main process)
    broken = (data / "train.csv").read_text().splitlines()[0].split(",")[1]
    (images / broken).write_bytes(b"truncated")
    argv = ["--training_datadir", str(images), "--datapath", str(data), "--work_path", str(tmp_path / "w"),
            "--preset", "tiny", "--image_size", "16", "--batch_size_train", "2", "--num_workers", "1",
            "--no_test", *QUIET]  # fmt: skip
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert f"train.csv:1: {images / broken}: cannot read image" in err


def test_unavailable_device_and_missing_test_csv_are_usage_errors(synth_set, tmp_path, capsys):
    data = _small_split(synth_set, tmp_path / "data")
    (data / "test.csv").unlink()
    argv = ["--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--work_path",
            str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16", *QUIET]  # fmt: skip
    assert train_main(argv) == 2
    assert "pass --no-test" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert train_main([*argv, "--no_test", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_non_finite_loss_stops_before_the_update(synth_set, tmp_path, monkeypatch, capsys):
    data = _small_split(synth_set, tmp_path / "data")
    real_loss = train_loop.cdflow_loss

    def nan_loss(out, delta_v):
        terms = real_loss(out, delta_v)
        terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(train_loop, "cdflow_loss", nan_loss)
    argv = ["--training_datadir", str(synth_set / "images"), "--datapath", str(data), "--work_path",
            str(tmp_path / "w"), "--preset", "tiny", "--image_size", "16", "--no_test", *QUIET]  # fmt: skip
    assert train_main(argv) == 2
    assert "non-finite loss" in capsys.readouterr().err


def test_channels_last_run_matches_the_plain_run_and_saves_the_default_layout(synth_set, tmp_path):
    """--channels-last changes the memory layout only: the losses of 2 steps agree with a plain run to float
    rounding (the weights too, up to Adam's sign-like steps on near-zero gradients: ≤ 2 steps × lr), and the
    checkpoint holds tensors in the default layout (loadable by any run)."""
    data = _small_split(synth_set, tmp_path / "data")
    common = ["--image-folder", str(synth_set / "images"), "--datapath", str(data), "--preset", "tiny",
              "--image-size", "16", "--lr", "1e-3", "--max-steps", "2", "--no-test", *QUIET]  # fmt: skip
    assert train_main([*common, "--work-path", str(tmp_path / "plain")]) == 0
    assert train_main([*common, "--work-path", str(tmp_path / "nhwc"), "--channels-last"]) == 0
    plain, nhwc = (load_checkpoint(tmp_path / name / "last.pt")["model"] for name in ("plain", "nhwc"))
    for key, value in nhwc.items():
        assert value.is_contiguous(), key
        assert (value.double() - plain[key].double()).abs().max() <= 2 * 1e-3 + 1e-6, key
    logs = [
        json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[-1]) for name in ("plain", "nhwc")
    ]
    assert logs[1]["train_loss"] == pytest.approx(logs[0]["train_loss"], rel=1e-5)
