"""The quickstart chooses torch's CPU threads once, before its first step, and gives every step the same count:
a step that chose for itself would see the previous step in the load average and run on one core of two."""

from __future__ import annotations

import subprocess

import pytest

from cdreasoning import quickstart, runtime
from cdreasoning.quickstart import QuickstartConfig, build_steps


def test_every_step_runs_with_the_threads_chosen_before_the_first(tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "_warned_busy", False)
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)
    loads = iter([0.0] + [2.0] * 100)  # idle when the quickstart starts, busy (its own steps) afterwards
    monkeypatch.setattr(runtime, "_load_average", lambda: next(loads))
    config = QuickstartConfig(out=tmp_path / "qs")
    pending = list(build_steps(config))
    seen = []

    def fake_run(argv, check, env):
        step = pending.pop(0)
        assert tuple(argv[3:]) == step.argv
        seen.append(env[runtime.THREADS_ENV])
        step.result.parent.mkdir(parents=True, exist_ok=True)
        step.result.write_text("")
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(quickstart.subprocess, "run", fake_run)
    monkeypatch.setattr("cdreasoning.quickstart_report.write_report", lambda *a, **k: tmp_path / "report.md")
    lines = []
    quickstart.run_quickstart(config, echo=lines.append)
    assert not pending and seen == ["2"] * len(build_steps(config))
    assert lines[0] == "[quickstart] every step uses 2 torch CPU thread(s) (--threads N sets them)"


def test_threads_given_are_used_as_given(tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "_load_average", lambda: 5.0)
    config = QuickstartConfig(out=tmp_path / "qs", threads=3)
    seen = []

    def fake_run(argv, check, env):
        seen.append(env[runtime.THREADS_ENV])
        raise subprocess.CalledProcessError(1, argv)  # stop after the first step

    monkeypatch.setattr(quickstart.subprocess, "run", fake_run)
    with pytest.raises(subprocess.CalledProcessError):
        quickstart.run_quickstart(config, echo=lambda line: None)
    assert seen == ["3"]
