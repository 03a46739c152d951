"""Light modules stay light: each import runs in a fresh interpreter and the heavy packages it must not load are
looked up in `sys.modules` afterwards. (Importing torch + transformers takes ~10 s on 2 CPU cores; a numpy
metric or `cdreasoning --help` must not pay it.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

HEAVY = ("torch", "transformers")


def _loaded_after(code: str) -> set[str]:
    """The HEAVY packages in sys.modules after running `code` in a fresh interpreter (stdout is discarded)."""
    probe = (
        "import io, sys, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), result.stdout
    return set(filter(None, last.removeprefix("loaded:").split(",")))


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("cdreasoning", HEAVY),
        ("cdreasoning.metrics", HEAVY),
        ("cdreasoning.scale", HEAVY),
        ("cdreasoning.colour", HEAVY),
        ("cdreasoning.data", HEAVY),
        ("cdreasoning.data.cli", HEAVY),
        ("cdreasoning.evaluate", HEAVY),
        ("cdreasoning.cdflow", HEAVY),  # a lazy package face: torch comes with the first model name used
        ("cdreasoning.cdflow.loss", ("transformers",)),
        ("cdreasoning.cdflow.train", ("transformers",)),
    ],
)
def test_import_does_not_load(module, forbidden):
    loaded = _loaded_after(f"import {module}")
    assert not loaded & set(forbidden), f"import {module} loads {sorted(loaded & set(forbidden))}"


@pytest.mark.parametrize(
    "argv, forbidden",
    [
        ([], HEAVY),
        (["--help"], HEAVY),
        (["data", "--help"], HEAVY),
        (["data", "synth", "--help"], HEAVY),
        (["eval", "--help"], HEAVY),
        (["cdflow", "--help"], HEAVY),  # the cdflow package face is lazy too
        (["cdflow", "train", "--help"], ("transformers",)),
    ],
)
def test_help_does_not_load(argv, forbidden):
    code = f"from cdreasoning.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _loaded_after(code)
    assert not loaded & set(forbidden), (
        f"cdreasoning {' '.join(argv)} loads {sorted(loaded & set(forbidden))}"
    )


def test_lazy_face_still_exports_the_model_names():
    code = (
        "import cdreasoning, sys\n"
        "assert 'transformers' not in sys.modules\n"
        "assert cdreasoning.CheckpointError.__module__ == 'cdreasoning.errors'\n"
        "scorer = cdreasoning.CDScorer\n"  # first access imports the inference layer
        "assert 'cdreasoning.inference.scorer' in sys.modules and scorer.__name__ == 'CDScorer'\n"
        "loader = cdreasoning.load_pretrained\n"  # the model layer, which registers it with transformers
        "import transformers\n"
        "assert transformers.AutoConfig.for_model('mplug_owl2').model_type == 'mplug_owl2'\n"
        "assert set(cdreasoning.__all__) == set(cdreasoning._LAZY) | {'__version__'}\n"
        "assert set(cdreasoning.__all__) <= set(dir(cdreasoning))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
