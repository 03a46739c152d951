#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install cdreasoning into it.
#
#   bash scripts/setup_env.sh            # CPU/GPU try-out + training + tests (extras: train, dev, demo)
#   EXTRAS=train,dev,demo,gpu bash scripts/setup_env.sh   # add flash-attn / bitsandbytes (CUDA machines)
#   VENV=/path/to/venv bash scripts/setup_env.sh     # another location
#   TORCH_SPEC="torch==2.5.1" bash scripts/setup_env.sh  # another torch build
#   CONSTRAINTS= bash scripts/setup_env.sh           # newest allowed versions instead of scripts/constraints.txt
#
# torch is installed first and on its own: a bare `torch` requirement on a machine without it pulls a
# multi-GB CUDA build. Rerunning is cheap: what is installed is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-train,dev,demo}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PYTHON=${PYTHON:-python3}
CONSTRAINTS=${CONSTRAINTS-scripts/constraints.txt}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing $TORCH_SPEC"
  "$PY" -m pip install -q "$TORCH_SPEC"
fi
echo "[setup] installing cdreasoning[$EXTRAS] (editable${CONSTRAINTS:+, versions from $CONSTRAINTS})"
"$PY" -m pip install -q -e ".[$EXTRAS]" ${CONSTRAINTS:+-c "$CONSTRAINTS"}
"$PY" -c "import torch, transformers, cdreasoning; print(f'[setup] ready: python {__import__(\"sys\").version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, cdreasoning {cdreasoning.__version__}')"
