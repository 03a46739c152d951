"""Case 8: errors reach the user as one clear line with a hint (exit status 2), not as a traceback; the
misleading messages name what is wrong and how to fix it; `--debug` shows the traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from cdreasoning.data.pair_lists import read_pairs
from cdreasoning.errors import CDReasoningError, DataError, PartialFailure, UsageError, report_errors
from tests.reliability.conftest import run_cli


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("error:", "hint:"))]


def test_report_errors_exit_status_and_debug(capsys):
    @report_errors
    def main(argv=None):
        kind = argv[0]
        if kind == "usage":
            raise UsageError("bad option --x", hint="use --y")
        if kind == "partial":
            raise PartialFailure("2 of 5 pairs failed")
        if kind == "bug":
            raise KeyError("not ours")
        return 0

    assert main(["usage"]) == 2
    assert capsys.readouterr().err == "error: bad option --x\nhint: use --y\n"
    assert main(["partial"]) == 1
    assert capsys.readouterr().err == "error: 2 of 5 pairs failed\n"
    with pytest.raises(UsageError):  # --debug: the traceback (the exception propagates)
        main(["usage", "--debug"])
    with pytest.raises(KeyError):  # a bug is never hidden
        main(["bug"])
    assert main(["ok", "--debug"]) == 0  # --debug is removed before the command parses its arguments


def test_nested_commands_report_once(capsys):
    @report_errors
    def inner(argv=None):
        raise DataError("x.csv:3: broken")

    @report_errors
    def outer(argv=None):
        return inner(argv)

    assert outer([]) == 2
    assert capsys.readouterr().err.count("error:") == 1


def test_model_path_that_is_a_file(tiny_checkpoint, tmp_path):
    result = run_cli("score", "--model-path", str(tiny_checkpoint / "config.json"), "a.png", "b.png")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: {tiny_checkpoint / 'config.json'} is a file, not a checkpoint folder" in result.stderr
    assert (
        f"hint: pass the folder that holds config.json and the weights ({tiny_checkpoint}?)" in result.stderr
    )


def test_missing_model_path_says_nothing_is_downloaded(tmp_path, capsys):
    from cdreasoning.cli import main

    assert main(["score", "--model-path", str(tmp_path / "nope"), "a.png", "b.png"]) == 2
    assert _error_lines(capsys.readouterr().err) == [
        f"error: checkpoint folder {tmp_path / 'nope'} does not exist",
        (
            "hint: weights are never downloaded; pass a local checkpoint folder (mPLUG-Owl2 layout, or a "
            "transformers-native vision-language model)"
        ),
    ]


def test_lora_adapter_folder_as_model_path(tiny_checkpoint, tmp_path, capsys):
    from cdreasoning.cli import main

    adapter = tmp_path / "cd-lora"
    shutil.copytree(tiny_checkpoint, adapter)
    (adapter / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(tiny_checkpoint)})
    )
    assert main(["score", "--model-path", str(adapter), "a.png", "b.png"]) == 2
    err = capsys.readouterr().err
    assert f"{adapter} is a LoRA adapter folder" in err
    assert f"hint: pass the merged model, or merge it first: cdreasoning export --merge-lora {adapter}" in err


def test_half_written_safetensors_names_the_file(tiny_checkpoint, tmp_path, capsys):
    from cdreasoning.cli import main

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert main(["score", "--model-path", str(folder), "a.png", "b.png"]) == 2
    err = capsys.readouterr().err
    assert f"error: {weights}: cannot read safetensors" in err and "was not written to the end" in err


def test_cuda_device_without_cuda(tiny_checkpoint, images):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_cli(
        "score", "--model-path", str(tiny_checkpoint), "--device", "cuda:0", *(str(images / "img0.png"),) * 2
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert _error_lines(result.stderr) == [
        "error: device 'cuda:0' requested but CUDA is not available on this machine",
        "hint: use --device auto (CUDA, then MPS, then CPU: whichever this machine has)",
    ]


def test_question_with_image_placeholders_names_the_option(tiny_checkpoint, images, capsys):
    from cdreasoning.cli import main

    a = str(images / "img0.png")
    question = "<image><image> How different are these two?"
    assert main(["score", "--model-path", str(tiny_checkpoint), "--question", question, a, a]) == 2
    err = capsys.readouterr().err
    assert f"error: --question contains the image placeholder '<image>': {question!r}" in err
    assert "hint: remove it; the two images are placed for you" in err


def test_question_given_to_describe_points_to_describe_question(tiny_checkpoint, images, capsys):
    from cdreasoning.cli import main

    a = str(images / "img0.png")
    assert main(["describe", "--model-path", str(tiny_checkpoint), "--question", "What changed?", a, a]) == 2
    assert _error_lines(capsys.readouterr().err) == [
        "error: --question sets the scoring question; describing asks --describe-question",
        "hint: use --describe-question 'What changed?'",
    ]
    with pytest.raises(SystemExit):
        main(["describe", "--help"])
    assert "--question " not in capsys.readouterr().out  # hidden there


def test_cd_score_without_the_spcd_data(tiny_checkpoint, tmp_path):
    # `python cdreasoning/evaluate/cd_score.py --model-path CKPT`, as the README shows, from a folder without SPCD
    import subprocess
    import sys

    from tests.reliability.conftest import REPO_ROOT

    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "cdreasoning/evaluate/cd_score.py"),
            "--model-path",
            str(tiny_checkpoint),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = _error_lines(result.stderr)
    assert lines[0].startswith("error: playground/data/spcd/test.csv: not found")
    assert "playground/README.md" in lines[1] and "runs/quickstart/data/test.csv" in lines[1]


@pytest.mark.parametrize("header", [False, True])
def test_csv_with_a_byte_order_mark(tmp_path, header):
    path = tmp_path / "pairs.csv"
    body = ("image_a,image_b,delta_v\n" if header else "") + "a.png,b.png,1.5\nc.png,d.png,2\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())  # what Excel writes for "CSV UTF-8"
    pairs = read_pairs(path)
    assert [(p.image_a, p.image_b, p.delta_v) for p in pairs] == [
        ("a.png", "b.png", 1.5),
        ("c.png", "d.png", 2.0),
    ]


def test_error_types():
    assert issubclass(DataError, ValueError) and issubclass(UsageError, ValueError)
    assert DataError.exit_status == UsageError.exit_status == 2 and PartialFailure.exit_status == 1
    from cdreasoning.model import CheckpointError

    assert issubclass(CheckpointError, CDReasoningError)


def test_train_argument_errors_are_one_line(tiny_checkpoint, tmp_path, capsys):
    from cdreasoning.train.finetune import main as train

    argv = ["--model_name_or_path", str(tiny_checkpoint), "--data_path", "x.json", "--output_dir", str(tmp_path),
            "--bits", "4", "--report_to", "none"]  # fmt: skip
    assert train(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: --bits 4/8 (QLoRA) needs --lora_enable True" in err
