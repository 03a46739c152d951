"""The README's commands stay true: every `cdreasoning …`, `python cdreasoning/….py …`, `python -m cdreasoning…`
and `bash scripts/quickstart.sh …` line in its bash blocks parses with the real command's parser (nothing runs),
and every script and document it names exists. What the commands do is tested elsewhere (and run end to end by
the quickstart test)."""

import argparse
import importlib
import re
import shlex

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"

# command words → module with build_parser(); None = the training entry (HfArgumentParser)
PARSERS = {
    ("init-model",): "cdreasoning.backbones.init_cli",
    ("score",): "cdreasoning.inference.score_cli",
    ("describe",): "cdreasoning.inference.describe_cli",
    ("train",): None,
    ("export",): "cdreasoning.train.export",
    ("quickstart",): "cdreasoning.quickstart",
    ("data", "build-score"): "cdreasoning.data.build_score_cli",
    ("data", "build-describe"): "cdreasoning.data.build_describe_cli",
    ("data", "mix"): "cdreasoning.data.mix_cli",
    ("data", "check"): "cdreasoning.data.check_cli",
    ("data", "synth"): "cdreasoning.data.synth_cli",
    ("eval", "score"): "cdreasoning.evaluate.cd_score",
    ("eval", "describe"): "cdreasoning.evaluate.cd_description",
    ("eval", "baseline"): "cdreasoning.evaluate.baseline",
    ("eval", "compare"): "cdreasoning.evaluate.compare",
    ("cdflow", "train"): "cdreasoning.cdflow.train",
    ("cdflow", "test"): "cdreasoning.cdflow.test",
    ("demo",): "cdreasoning.demo.cli",
}
SCRIPT_PATHS = {
    "cdreasoning/evaluate/cd_score.py": ("eval", "score"),
    "cdreasoning/evaluate/cd_description.py": ("eval", "describe"),
    "cdreasoning/train/finetune.py": ("train",),
}
MODULES = {"cdreasoning.cdflow.train": ("cdflow", "train"), "cdreasoning.cdflow.test": ("cdflow", "test")}


def _bash_lines() -> list[str]:
    """Logical command lines of the README's bash blocks (continuations joined, comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _command(line: str) -> tuple[tuple[str, ...], list[str]] | None:
    words = shlex.split(line)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # environment assignments
        words.pop(0)
    if not words:
        return None
    if words[:2] == ["bash", "scripts/quickstart.sh"]:  # passes its arguments to `cdreasoning quickstart`
        return ("quickstart",), words[2:]
    if words[0] in ("cdreasoning", ".venv/bin/cdreasoning"):
        rest = words[1:]
    elif words[0] == "python" and len(words) > 1 and words[1] in SCRIPT_PATHS:
        return SCRIPT_PATHS[words[1]], words[2:]
    elif words[0] == "python" and len(words) > 2 and words[1] == "-m" and words[2] in MODULES:
        return MODULES[words[2]], words[3:]
    else:
        return None
    for key in PARSERS:
        if tuple(rest[: len(key)]) == key:
            return key, rest[len(key) :]
    raise AssertionError(f"README command {line!r}: unknown cdreasoning command")


def _parse(key: tuple[str, ...], argv: list[str], line: str) -> None:
    module = PARSERS[key]
    try:
        if module is None:
            from transformers import HfArgumentParser

            from cdreasoning.train.arguments import DataArguments, ModelArguments, TrainingArguments

            parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
            _namespace, unknown = parser.parse_known_args(argv)
            assert not unknown, f"README command {line!r}: unknown training arguments {unknown}"
            return
        parser: argparse.ArgumentParser = importlib.import_module(module).build_parser()
        parser.parse_args(argv)
    except SystemExit as err:
        raise AssertionError(f"README command {line!r} does not parse (exit {err.code})") from None


COMMANDS = [(line, found) for line in _bash_lines() if (found := _command(line)) is not None]


def test_readme_has_the_commands_users_need():
    keys = {key for _, (key, _) in COMMANDS}
    for needed in [
        ("quickstart",),
        ("score",),
        ("describe",),
        ("export",),
        ("eval", "score"),
        ("eval", "describe"),
        ("eval", "baseline"),
        ("eval", "compare"),
        ("cdflow", "train"),
        ("cdflow", "test"),
        ("init-model",),
        ("data", "build-score"),
        ("data", "check"),
        ("data", "synth"),
    ]:
        assert needed in keys, needed


@pytest.mark.parametrize("line,found", COMMANDS, ids=[line[:60] for line, _ in COMMANDS])
def test_readme_command_parses(line, found):
    key, argv = found
    _parse(key, argv, line)


def test_readme_scripts_exist():
    for line in _bash_lines():
        for path in re.findall(r"(?:^|\s)(?:bash|sh)\s+(scripts/\S+)", line):
            assert (REPO_ROOT / path).is_file(), f"README names {path}, which does not exist"
    for path in re.findall(r"\(((?:docs|playground)/[^)#\s]+)\)", README.read_text(encoding="utf-8")):
        assert (REPO_ROOT / path).is_file(), f"README links {path}, which does not exist"
