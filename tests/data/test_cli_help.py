"""`cdreasoning data …`: one module per sub-command, each option explained, dispatched by the one group helper."""

import importlib

import pytest

from cdreasoning.cli import main as top_main
from cdreasoning.data.cli import SUBCOMMANDS, main

COMMANDS = ("build-score", "build-describe", "mix", "check", "synth")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    parser = importlib.import_module(SUBCOMMANDS[command][0]).build_parser()
    assert parser.prog == f"cdreasoning data {command}"
    for action in parser._actions:
        assert action.help, (command, action.dest)
        for flag in action.option_strings:
            assert flag in text


def test_top_level_dispatches_to_data(capsys):
    assert top_main(["data", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(c in text for c in COMMANDS)
    assert top_main(["data", "frobnicate"]) == 2
    assert "cdreasoning data: unknown command 'frobnicate'" in capsys.readouterr().err
