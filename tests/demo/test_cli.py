"""`cdreasoning demo`'s command line, without starting a server: defaults, the quickstart model, the host
warning, a missing Gradio, and the front door."""

from __future__ import annotations

import sys

import pytest

from cdreasoning.demo import cli


def test_defaults_point_at_the_quickstart():
    from cdreasoning.demo.examples import default_example_folder
    from cdreasoning.quickstart import QuickstartConfig, build_steps

    out = QuickstartConfig().out
    assert cli.default_model_path() == out / "models" / "lora-merged"
    assert default_example_folder() == out / "data"
    # The quickstart really writes that model (its merge step's result).
    merge = next(step for step in build_steps(QuickstartConfig()) if step.name == "merge")
    assert merge.result.parent == cli.default_model_path()
    args = cli.build_parser().parse_args([])
    assert (args.host, args.port, args.model_path, args.cdflow) == ("127.0.0.1", 7860, None, None)


def test_without_a_model_it_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "runs/quickstart/models/lora-merged does not exist yet" in err
    assert "bash scripts/quickstart.sh" in err and "--model-path" in err


def test_missing_paths_are_named(tmp_path, tiny_checkpoint, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--model-path", str(tmp_path / "nope")])
    assert f"--model-path {tmp_path / 'nope'}: no such checkpoint folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--model-path", str(tiny_checkpoint), "--cdflow", str(tmp_path / "best.pt")])
    assert "--cdflow" in capsys.readouterr().err


def test_binding_elsewhere_warns_and_uploads_are_cleaned(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_serve(args, model_path, uploads):
        seen["root"] = uploads.root
        seen["temp"] = cli.os.environ["GRADIO_TEMP_DIR"]
        (uploads.request_dir() / "upload.png").write_bytes(b"x")
        return 0

    monkeypatch.setattr(cli, "_serve", fake_serve)
    for name in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED"):  # main() sets them; restored afterwards
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    assert cli.main(["--model-path", str(tiny_checkpoint), "--host", "0.0.0.0"]) == 0
    assert "WARNING: binding to 0.0.0.0, not 127.0.0.1" in capsys.readouterr().err
    assert seen["root"].parent == tmp_path.resolve() and seen["temp"].startswith(str(seen["root"]))
    assert not seen["root"].exists()
    assert cli.main(["--model-path", str(tiny_checkpoint)]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_without_gradio_the_message_says_what_to_install(tiny_checkpoint, monkeypatch, capsys):
    for name in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    monkeypatch.setattr(cli, "_serve", lambda *a: pytest.fail("served without gradio"))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--model-path", str(tiny_checkpoint)])
    assert 'pip install -e ".[demo]"' in str(exit_.value.code)


def test_front_door_lists_demo(capsys):
    from cdreasoning import cli as front_door

    assert front_door.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        front_door.main(["demo", "--help"])
    assert exit_.value.code == 0
    assert "--cdflow" in capsys.readouterr().out
