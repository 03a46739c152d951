import pytest

from cdreasoning.cli import main as top_main
from cdreasoning.data.cli import build_parser, main

COMMANDS = ("build-score", "build-describe", "mix", "check", "synth")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        assert action.help, (command, action.dest)
        for flag in action.option_strings:
            assert flag in text


def test_top_level_dispatches_to_data(capsys):
    with pytest.raises(SystemExit) as info:
        top_main(["data", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert all(c in text for c in COMMANDS)
