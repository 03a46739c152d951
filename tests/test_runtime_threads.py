"""runtime.choose_threads / warn_if_busy: the thread count a command runs with, chosen from the free cores."""

from __future__ import annotations

import pytest

from cdreasoning import runtime


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "_warned_busy", False)


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.1, 2), (2, 0.6, 1), (2, 3.8, 1), (16, 0.0, 16), (16, 4.4, 12), (16, 40.0, 1), (4, None, 4)],
)
def test_one_thread_per_free_core(cores, load, expected, monkeypatch):
    if load is None:
        monkeypatch.setattr(runtime, "_load_average", lambda: None)
    assert runtime.choose_threads(None, cores=cores, load=load) == expected


def test_requested_and_environment_win(monkeypatch):
    assert runtime.choose_threads(3, cores=2, load=10.0) == 3
    monkeypatch.setenv(runtime.THREADS_ENV, "5")
    assert runtime.choose_threads(None, cores=2, load=0.0) == 5
    assert runtime.choose_threads(2, cores=2, load=0.0) == 2
    with pytest.raises(ValueError, match="--threads must be ≥ 1"):
        runtime.choose_threads(0)
    monkeypatch.setenv(runtime.THREADS_ENV, "many")
    with pytest.raises(ValueError, match="CDREASONING_THREADS must be a positive integer"):
        runtime.choose_threads(None)


def test_busy_warning_once(capsys):
    assert not runtime.warn_if_busy("prog", 1, cores=2, load=1.2)  # one other process on 2 cores: fits
    assert runtime.warn_if_busy("prog", 1, cores=2, load=3.9)
    assert "load average 3.9 on 2 cores" in capsys.readouterr().err
    assert not runtime.warn_if_busy("prog", 1, cores=2, load=5.0)  # once per process
    assert capsys.readouterr().err == ""
