"""One spelling per concept at the command line: dashed flags are canonical (first in --help), the original
scripts' spellings are aliases that reach the same setting. Nothing runs; only the real parsers parse."""

from __future__ import annotations

import argparse
import importlib

import pytest

# command → module with build_parser() (argparse)
ARGPARSE_COMMANDS = {
    "score": "cdreasoning.inference.score_cli",
    "describe": "cdreasoning.inference.describe_cli",
    "init-model": "cdreasoning.model.init_cli",
    "export": "cdreasoning.train.export",
    "quickstart": "cdreasoning.quickstart",
    "eval score": "cdreasoning.evaluate.cd_score",
    "eval describe": "cdreasoning.evaluate.cd_description",
    "eval baseline": "cdreasoning.evaluate.baseline",
    "eval compare": "cdreasoning.evaluate.compare",
    "cdflow train": "cdreasoning.cdflow.train",
    "cdflow test": "cdreasoning.cdflow.test",
    "data build-score": "cdreasoning.data.build_score_cli",
    "data build-describe": "cdreasoning.data.build_describe_cli",
    "data mix": "cdreasoning.data.mix_cli",
    "data check": "cdreasoning.data.check_cli",
    "data synth": "cdreasoning.data.synth_cli",
}
# Concept → its one canonical flag, and the spellings that must never be canonical (aliases at most).
CANONICAL = {
    "image folder": ("--image-folder", {"--image_folder", "--training_datadir", "--datadir", "--dataset"}),
    "batch size": ("--batch-size", {"--batch_size_train", "--per_device_train_batch_size", "--batch_size"}),
    "model path": ("--model-path", {"--model_name_or_path", "--model_path"}),
}


MODEL = ["--model-path", "m"]


def _parser(command: str) -> argparse.ArgumentParser:
    return importlib.import_module(ARGPARSE_COMMANDS[command]).build_parser()


def _options(parser: argparse.ArgumentParser) -> list[list[str]]:
    return [
        action.option_strings for action in parser._actions if action.option_strings and action.dest != "help"
    ]


@pytest.mark.parametrize("command", sorted(ARGPARSE_COMMANDS))
def test_every_flag_is_dashed_first(command):
    for strings in _options(_parser(command)):
        canonical = strings[0]
        assert "_" not in canonical, (
            f"cdreasoning {command}: {canonical} should be spelled with dashes ({strings})"
        )
        for alias in strings[1:]:
            # an underscore spelling is only ever the alias of a dashed flag
            assert alias.startswith("--"), (command, strings)
        for concept, (name, aliases) in CANONICAL.items():
            assert canonical not in aliases, f"cdreasoning {command}: the {concept} is spelled {name}"


@pytest.mark.parametrize(
    "command, base, canonical, aliases, dest",
    [
        ("score", MODEL, "--image-folder", ["--image_folder"], "image_folder"),
        ("describe", MODEL, "--image-folder", ["--image_folder"], "image_folder"),
        ("eval score", MODEL, "--image-folder", ["--image_folder"], "image_folder"),
        ("eval describe", MODEL, "--image-folder", ["--image_folder"], "image_folder"),
        ("eval score", MODEL, "--pairs", ["--data"], "data"),
        ("eval describe", MODEL, "--pairs", ["--data"], "data"),
        (
            "eval baseline",
            ["--method", "cie76", "--pairs", "p.csv", "--out", "o"],
            "--image-folder",
            ["--image_folder"],
            "image_folder",
        ),
        ("data check", ["x.json"], "--image-folder", ["--image_folder"], "image_folder"),
        (
            "cdflow train",
            [],
            "--image-folder",
            ["--training_datadir", "--image_folder", "--datadir", "--dataset"],
            "training_datadir",
        ),
        (
            "cdflow test",
            [],
            "--image-folder",
            ["--training_datadir", "--image_folder", "--datadir", "--dataset"],
            "training_datadir",
        ),
        ("cdflow train", ["--image-folder", "i"], "--batch-size", ["--batch_size_train"], "batch_size_train"),
        ("cdflow train", ["--image-folder", "i"], "--work-path", ["--work_path"], "work_path"),
        ("cdflow train", ["--image-folder", "i"], "--epochs", ["--n_epochs"], "epochs"),
        (
            "cdflow test",
            ["--image-folder", "i"],
            "--batch-size-test",
            ["--batch_size_test"],
            "batch_size_test",
        ),
    ],
)
def test_original_spellings_are_aliases(command, base, canonical, aliases, dest):
    parser = _parser(command)
    value = "7"
    expected = getattr(parser.parse_args([*base, canonical, value]), dest)
    assert str(expected) == value
    for alias in aliases:
        assert getattr(parser.parse_args([*base, alias, value]), dest) == expected, (command, alias)


def test_training_flags_have_the_shared_names_and_the_originals():
    from transformers import HfArgumentParser

    from cdreasoning.train.arguments import DataArguments, ModelArguments, TrainingArguments

    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))

    def parse(*argv):
        model, data, training = parser.parse_args_into_dataclasses([*argv, "--output-dir", "runs/x"])
        return (
            model.model_name_or_path,
            data.image_folder,
            data.data_path,
            training.per_device_train_batch_size,
        )

    canonical = parse(
        "--model-path", "m", "--image-folder", "i", "--data-path", "d.json", "--batch-size", "3"
    )
    original = parse(
        "--model_name_or_path",
        "m",
        "--image_folder",
        "i",
        "--data_path",
        "d.json",
        "--per_device_train_batch_size",
        "3",
    )
    assert canonical == original == ("m", "i", ["d.json"], 3)
