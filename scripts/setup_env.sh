#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install cdreasoning into it.
#
#   bash scripts/setup_env.sh            # CPU/GPU try-out + training + tests (extras: train, dev)
#   EXTRAS=train,dev,gpu bash scripts/setup_env.sh   # add flash-attn / bitsandbytes (CUDA machines)
#   VENV=/path/to/venv bash scripts/setup_env.sh     # another location
#   TORCH_SPEC="torch==2.5.1" bash scripts/setup_env.sh  # another torch build
#   CONSTRAINTS= bash scripts/setup_env.sh           # newest allowed versions instead of scripts/constraints.txt
#   FORCE_INSTALL=1 bash scripts/setup_env.sh        # reinstall even when nothing changed
#
# torch is installed first and on its own: a bare `torch` requirement on a machine without it pulls a
# multi-GB CUDA build. Rerunning is cheap: the project install is skipped when pyproject.toml, the constraints
# file, EXTRAS and TORCH_SPEC are unchanged since the last install (a stamp in the venv records their hash) and
# the venv still imports this checkout's package.
#
# The install is editable in setuptools' "compat" mode: it puts this checkout's root on sys.path, so
# `import cdreasoning` finds the real package even when the current folder holds a clone named `cdreasoning`
# (with the default mode such a folder is taken for an empty namespace package and shadows the install).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-train,dev}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PYTHON=${PYTHON:-python3}
CONSTRAINTS=${CONSTRAINTS-scripts/constraints.txt}
STAMP="$VENV/.cdreasoning-install-stamp"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$(cd "$VENV" && pwd)/bin/python"  # absolute: installed_here runs it from /
export PIP_DISABLE_PIP_VERSION_CHECK=1
# find_spec, not `import torch`: the check must not cost the seconds an import of torch takes
if ! "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)" >/dev/null 2>&1; then
  echo "[setup] installing $TORCH_SPEC"
  "$PY" -m pip install -q "$TORCH_SPEC"
fi

# What the project install depends on; any change reinstalls.
inputs_hash() {
  {
    cat pyproject.toml
    if [ -n "$CONSTRAINTS" ]; then cat "$CONSTRAINTS"; fi
    echo "extras=$EXTRAS torch=$TORCH_SPEC constraints=$CONSTRAINTS root=$ROOT mode=compat"
  } | "$PY" -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
}
# True when the venv imports cdreasoning from this checkout (run from / so the current folder cannot shadow).
installed_here() {
  (cd / && "$PY" -c "import cdreasoning, pathlib, sys; sys.exit(pathlib.Path(cdreasoning.__file__).resolve().parent != pathlib.Path(sys.argv[1]).resolve() / 'cdreasoning')" "$ROOT") >/dev/null 2>&1
}

WANT=$(inputs_hash)
if [ -z "${FORCE_INSTALL:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && installed_here; then
  echo "[setup] cdreasoning[$EXTRAS] is installed and unchanged (stamp $STAMP); skipping pip"
else
  echo "[setup] installing cdreasoning[$EXTRAS] (editable${CONSTRAINTS:+, versions from $CONSTRAINTS})"
  "$PY" -m pip install -q -e ".[$EXTRAS]" ${CONSTRAINTS:+-c "$CONSTRAINTS"} --config-settings editable_mode=compat
  echo "$WANT" >"$STAMP"
fi
# Versions from the installed metadata: importing torch and transformers here would cost ~10 s per run.
"$PY" -c "import sys; from importlib.metadata import version as v; print(f'[setup] ready: python {sys.version.split()[0]}, torch {v(\"torch\")}, transformers {v(\"transformers\")}, cdreasoning {v(\"cdreasoning\")}')"
