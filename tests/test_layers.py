"""The package's layers run one way (README "Layout"): every import of a `cdreasoning` module, at module or
function level, must be allowed by the table below; a sub-command never imports the group that dispatches to it.

A new subpackage or top-level module must be given a place in LAYERS before this test passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "cdreasoning"

# Units from the bottom up: a unit may import its own modules and units of a *lower* rank listed in ALLOWED.
CORE = (
    "constants",
    "errors",
    "checkpoint_config",
    "offline",
    "colour",
    "metrics",
    "scale",
    "runtime",
    "cli_support",
)
LAYERS: list[tuple[str, ...]] = [
    CORE,  # standard library, numpy / scipy; runtime alone imports torch
    ("data",),  # files in, records out: readers, the image reader, the result store, SPCD naming, severities
    ("processing",),  # templates, tokenisation, the model's image preprocessing
    ("model",),  # the mPLUG-Owl2 model (transformers)
    ("backbones",),  # other model families behind the same seam
    ("train", "inference"),  # fine-tuning; scoring and describing with a model
    ("evaluate",),  # metrics reports, baselines, evaluation of a model's scores and descriptions
    ("cdflow",),  # CD-Flow (uses evaluate's score report: one report format for every method)
    ("demo",),  # the interactive demo
    # the quickstart's report (from the files its steps wrote), time estimates and second-backbone steps
    ("quickstart_report", "quickstart_eta", "quickstart_backbones"),
    ("quickstart_steps",),  # the quickstart's commands (its own steps and the second-backbone ones)
    ("cli", "quickstart"),  # the front door and the main job (they run the others as commands)
    ("__main__", "__init__"),  # `python -m cdreasoning`; the lazy package face
]
BELOW = {
    unit: {u for layer in LAYERS[:rank] for u in layer} for rank, units in enumerate(LAYERS) for unit in units
}
# What each unit may import, when it is narrower than "everything below".
ALLOWED: dict[str, set[str]] = {
    **BELOW,
    **{unit: set(CORE) for unit in CORE},  # core modules may use each other, nothing above
    "train": BELOW["train"] - {"inference"},
    "inference": BELOW["inference"] - {"train"},
    "evaluate": BELOW["evaluate"] - {"train"},
    "cdflow": set(CORE) | {"data", "evaluate"},  # no model, no training, no inference
}
# `from cdreasoning import __version__` reads the package face's one constant; it is allowed everywhere.
PACKAGE_CONSTANTS = {"__version__"}


def _unit(module: str) -> str:
    """'cdreasoning.data.images' → 'data'; 'cdreasoning' → '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    return ".".join(path.parent.relative_to(REPO_ROOT).parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every `cdreasoning` import in `source`, at any depth (functions, classes,
    try blocks), except under `if TYPE_CHECKING:` (never executed). `from cdreasoning import x` names the
    submodule `cdreasoning.x` when x is one, else the package face. `package`: the package the source is in
    (for relative imports)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(
                (node.lineno, alias.name) for alias in node.names if alias.name.startswith("cdreasoning")
            )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "cdreasoning":
                for alias in node.names:
                    if alias.name in PACKAGE_CONSTANTS:
                        continue
                    is_module = (PACKAGE / f"{alias.name}.py").is_file() or (PACKAGE / alias.name).is_dir()
                    found.append((node.lineno, f"cdreasoning.{alias.name}" if is_module else "cdreasoning"))
            elif base.startswith("cdreasoning."):
                found.append((node.lineno, base))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_place_in_the_table():
    units = {_unit(_module_name(path)) for path in _package_files()}
    missing = units - set(BELOW)
    assert not missing, f"give these a layer in tests/test_layers.py and README 'Layout': {sorted(missing)}"


def test_the_table_points_one_way():
    for unit, allowed in ALLOWED.items():
        assert unit not in allowed or unit in CORE, unit
        if unit not in CORE:
            assert allowed <= BELOW[unit], (
                f"{unit} may import {sorted(allowed - BELOW[unit])} above or beside it"
            )


def test_imports_follow_the_layers():
    violations = []
    for path in _package_files():
        module = _module_name(path)
        source_unit = _unit(module)
        for line, target in imported_modules(path.read_text(encoding="utf-8"), _package_of(path)):
            target_unit = _unit(target)
            if target_unit == source_unit or target_unit in ALLOWED[source_unit]:
                continue
            violations.append(
                f"{path.relative_to(REPO_ROOT)}:{line}: {source_unit} imports {target} ({target_unit}); "
                f"{source_unit} may import {', '.join(sorted(ALLOWED[source_unit])) or 'nothing in cdreasoning'}"
            )
    assert not violations, "imports against the layers (README 'Layout'):\n" + "\n".join(violations)


def test_no_sub_command_imports_its_front_door():
    """`cdreasoning.cli`, `cdreasoning.<group>.cli` dispatch to sub-commands; nothing imports them back."""
    violations = []
    for path in _package_files():
        module = _module_name(path)
        for line, target in imported_modules(path.read_text(encoding="utf-8"), _package_of(path)):
            # `python -m cdreasoning` (__main__) is the front door itself
            if target.endswith(".cli") and module != "cdreasoning.__main__":
                violations.append(f"{path.relative_to(REPO_ROOT)}:{line}: imports {target}")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import cdreasoning.model\n", ["cdreasoning.model"]),
        (
            "def f():\n    from cdreasoning.evaluate.score_report import ScoreRow\n",
            ["cdreasoning.evaluate.score_report"],
        ),
        ("from cdreasoning import metrics, __version__\n", ["cdreasoning.metrics"]),
        ("from cdreasoning import CDScorer\n", ["cdreasoning"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cdreasoning.model\n", []),
        ("try:\n    import cdreasoning.train\nexcept ImportError:\n    pass\n", ["cdreasoning.train"]),
        ("from .images import load_image\n", ["cdreasoning.data.images"]),
    ],
)
def test_the_scan_sees_every_kind_of_import(source, expected):
    assert [name for _, name in imported_modules(source, "cdreasoning.data")] == expected


def test_readme_layout_names_every_unit():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    units = {_unit(_module_name(path)) for path in _package_files()}
    missing = [u for u in sorted(units) if f"`{u}`" not in section and f"`{u}/`" not in section]
    assert not missing, f"README 'Layout' does not name {missing}"
