"""The shell entry points stay cheap: `quickstart.sh --help` answers before any venv exists, `setup_env.sh` skips
pip when nothing changed, and a folder named `cdreasoning` in the current directory does not shadow the
install. Nothing is installed: pip is replaced by a recorder in a fake venv that runs this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def _fake_venv(tmp_path):
    """A venv whose python is this interpreter, except that `python -m pip …` is only written to a log."""
    venv, log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$*" >> "{log}"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    return venv, log


def _setup(venv, constraints, **env):
    return subprocess.run(
        ["bash", "scripts/setup_env.sh"],
        cwd=REPO_ROOT,
        env={**os.environ, "VENV": str(venv), "CONSTRAINTS": str(constraints), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quickstart_help_answers_before_the_venv_exists(tmp_path):
    venv = tmp_path / "no-venv-yet"
    result = subprocess.run(
        ["bash", "scripts/quickstart.sh", "--help"],
        cwd=REPO_ROOT,
        env={**os.environ, "VENV": str(venv), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: cdreasoning quickstart" in result.stdout and "--fresh" in result.stdout
    assert not venv.exists()  # nothing was built


def test_setup_skips_pip_when_nothing_changed(tmp_path):
    venv, log = _fake_venv(tmp_path)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("numpy<3\n")

    first = _setup(venv, constraints)
    assert first.returncode == 0, first.stderr
    installs = log.read_text().splitlines()
    assert len(installs) == 1 and "install -q -e .[train,dev]" in installs[0]
    assert "editable_mode=compat" in installs[0]

    second = _setup(venv, constraints)
    assert second.returncode == 0, second.stderr
    assert "skipping pip" in second.stdout and len(log.read_text().splitlines()) == 1

    constraints.write_text("numpy<3\nscipy<2\n")  # a changed input installs again
    third = _setup(venv, constraints)
    assert third.returncode == 0 and len(log.read_text().splitlines()) == 2
    forced = _setup(venv, constraints, FORCE_INSTALL="1")
    assert forced.returncode == 0 and len(log.read_text().splitlines()) == 3


def test_a_folder_named_cdreasoning_does_not_shadow_the_package(tmp_path):
    (tmp_path / "cdreasoning").mkdir()  # e.g. a clone of this repository, seen from its parent folder
    result = subprocess.run(
        [sys.executable, "-c", "import cdreasoning; print(cdreasoning.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    found = Path(result.stdout.strip()).resolve()
    assert found == (REPO_ROOT / "cdreasoning" / "__init__.py").resolve()
