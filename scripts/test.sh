#!/usr/bin/env bash
# Set up the environment (scripts/setup_env.sh) and run the whole test suite. This is the README's test
# command and exactly what CI runs (.ci/run). Extra arguments go to pytest, e.g. `bash scripts/test.sh -x -k model`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# pytest exits 5 when it collected no test: that is a failure here too (set -e keeps it non-zero).
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
