"""The quickstart (`cdreasoning quickstart`, `bash scripts/quickstart.sh`) end to end on smoke-sized settings:
every step's real command runs, the report holds the tables, plots and examples, a rerun reuses everything, and
a redone step makes the steps that read it run again."""

import json
import re
import subprocess

import pytest

from cdreasoning.quickstart import QuickstartConfig, build_steps, main, run_quickstart
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    config = QuickstartConfig(
        out=tmp_path_factory.mktemp("quickstart") / "qs",
        scenes=5,
        size=64,
        pairs_per_scene=30,
        full_steps=4,
        lora_steps=2,
        batch_size=4,
        cdflow_epochs=1,
        cdflow_size=64,
        examples=2,
        workers=0,
        device="cpu",
    )
    lines = []
    report = run_quickstart(config, echo=lines.append)
    return config, report, lines


def test_report_has_every_method_subset_plot_and_example(smoke):
    config, report, lines = smoke
    assert report == config.out / "report.md"
    text = report.read_text()
    for method in ("tiny-full", "tiny-lora", "ciede2000", "scielab", "cdflow"):
        assert f"| {method} | all |" in text and f"| {method} | aligned |" in text
        assert f"| {method} | not_aligned |" in text
    # every image the report shows exists
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)
    assert len(images) >= 5 + 1 + 1 + 2 * config.examples
    for image in images:
        assert (config.out / image).is_file(), image
    assert text.count("- ground truth: ") == config.examples
    assert "white balance |" in text and "training_loss.png" in text
    # the report lists the commands that ran, each printed before it ran
    ran = [line for line in lines if "\n  $ cdreasoning " in line]
    assert len(ran) == len(build_steps(config))
    assert "cdreasoning train --model-path" in text and "--lora-enable True" in text
    # honest reading: baselines, collapse flags, proxy ground truth, uncertainty, the command to try it
    assert "majority-class accuracy" in text and "collapsed?" in text
    assert "proxy, not human judgement" in text and "CIELAB" in text
    assert "calibration (" in text and "consistency (" in text and "explanation–score agreement" in text
    assert " of 7;" in text and ".000 of 7" not in text
    assert text.rstrip().endswith("numbers above say.)") and "cdreasoning score --model-path" in text
    model = config.out / "models" / "lora-merged"
    assert f"cdreasoning demo --model-path {model}" in text and (model / "model.safetensors").is_file()
    assert (
        lines[-1]
        == f"[quickstart] try it on your own pair in the browser: cdreasoning demo --model-path {model}"
    )


def test_rerun_reuses_and_a_redone_step_redoes_its_readers(smoke):
    config, _report, _ = smoke
    lines = []
    run_quickstart(config, echo=lines.append)
    assert sum("reusing" in line for line in lines) == len(build_steps(config))
    text = (config.out / "report.md").read_text()
    assert "all steps together took" in text and "time unknown" not in text
    # redo the CD-Flow test: only it and the leaderboard (which reads it) run again
    (config.out / "eval" / "cdflow" / "metrics.json").unlink()
    lines = []
    run_quickstart(config, echo=lines.append)
    headers = _headers_of_steps_run(lines)
    assert [header.split(" (~")[0] for header in headers] == ["CD-Flow on the test pairs", "leaderboard"]
    assert all(re.search(r"\(~\d+ s expected, about [\d.]+ (s|min) left in all\)$", h) for h in headers), (
        headers
    )


def test_bad_settings_are_refused(capsys):
    assert main(["--scenes", "2"]) == 2
    assert "scenes must be ≥ 5" in capsys.readouterr().err
    with pytest.raises(ValueError, match="full_steps"):
        QuickstartConfig(full_steps=0)


def test_launcher_parses_and_help_explains_the_steps(capsys):
    result = subprocess.run(
        ["bash", "-n", str(REPO_ROOT / "scripts" / "quickstart.sh")], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for word in (
        "data synth",
        "init-model",
        "--lora-enable",
        "eval score",
        "eval describe",
        "eval baseline",
        "cdflow train",
        "eval compare",
        "report.md",
        "--fresh",
        "--device",
    ):
        assert word in help_text, word


def test_a_backbone_joins_the_finished_run_and_its_leaderboard(smoke):
    """`--backbone qwen2_5_vl` on a finished run: only that family's steps and the leaderboard run."""
    from dataclasses import replace

    config, _report, _ = smoke
    with_qwen = replace(config, backbones=("qwen2_5_vl",))
    lines = []
    run_quickstart(with_qwen, echo=lines.append)
    ran = [header.split(" (~")[0] for header in _headers_of_steps_run(lines)]
    assert ran[0] == "tiny random qwen2_5_vl" and ran[-1] == "leaderboard"
    assert len(ran) == 7 + 1  # init, full, LoRA, merge, 2 scores, describe; leaderboard
    board = (config.out / "leaderboard" / "leaderboard.md").read_text()
    for method in ("tiny-qwen2_5_vl-full", "tiny-qwen2_5_vl-lora", "tiny-full", "tiny-lora", "cdflow"):
        assert method in board, method
    assert (
        json.loads((config.out / "models" / "qwen2_5_vl" / "init" / "config.json").read_text())["model_type"]
        == "qwen2_5_vl"
    )
    with pytest.raises(ValueError, match="unknown backbone"):
        QuickstartConfig(backbones=("nope",))


def _headers_of_steps_run(lines: list[str]) -> list[str]:
    """ "<title> (<eta>)" of each step the quickstart ran (its echo: "[quickstart] (n/N) <title> (<eta>)\n  $ …");
    reused steps have no command line."""
    return [line.split(") ", 1)[1].split("\n")[0] for line in lines if "\n  $ " in line]


def test_recipe_options_reach_their_commands():
    """The benchmarked recipe: vision tower frozen in the full stage unless --train-vision, soft labels by
    default, and --pairs-per-scene passed to the synthetic set."""
    from pathlib import Path

    def argv(config, name):
        return next(step.argv for step in build_steps(config) if step.name == name)

    default = QuickstartConfig(out=Path("q"))
    full = argv(default, "full")
    assert full[full.index("--freeze-vision-model") + 1] == "True"
    assert full[full.index("--score-loss") + 1] == "soft"
    data = argv(QuickstartConfig(out=Path("q"), pairs_per_scene=45), "data")
    assert data[data.index("--pairs-per-scene") + 1] == "45"
    trained = argv(QuickstartConfig(out=Path("q"), train_vision=True), "full")
    assert trained[trained.index("--freeze-vision-model") + 1] == "False"
    assert main(["--pairs-per-scene", "0"]) == 2  # validated in one place, one line on stderr
    # the full stage trains on the score records ×score_repeat + the descriptions; LoRA on the 1:1 mix
    mix = argv(QuickstartConfig(out=Path("q"), score_repeat=5), "train-data")
    assert mix[:2] == ("data", "mix") and mix[mix.index("--repeat") + 1 : mix.index("--repeat") + 3] == (
        "5",
        "1",
    )
    inputs = mix[mix.index("--inputs") + 1 : mix.index("--inputs") + 3]
    assert inputs == ("q/data/score_task/train_data.json", "q/data/depict_task/depict_train.json")
    out = mix[mix.index("--out") + 1]
    assert full[full.index("--data-path") + 1] == out == "q/data/train_full.json"
    lora = argv(default, "lora")
    assert lora[lora.index("--data-path") + 1] == "q/data/train_mix.json"
    assert main(["--score-repeat", "0"]) == 2
    # both stages show 5 % of score records as an image against itself, and batch records of similar length
    for stage in (full, lora):
        assert stage[stage.index("--identical-pair-prob") + 1] == "0.05"
        assert stage[stage.index("--group-by-modality-length") + 1] == "True"
    assert main(["--identical-pair-prob", "1.5"]) == 2
