"""The code stays lint-clean and ruff-formatted under the project's ruff settings (pyproject.toml; ruff comes with the dev extra)."""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install -e .[dev])"
)
def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "cdreasoning", "tests", "scripts"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install -e .[dev])"
)
def test_ruff_format_is_clean():
    """One formatter for the whole tree: `ruff format` leaves every file unchanged."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "cdreasoning", "tests", "scripts"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
