#!/usr/bin/env bash
# The main job in one command, on a fresh machine (no GPU needed; one is used when present):
#
#   bash scripts/quickstart.sh                  # → runs/quickstart/report.md
#   bash scripts/quickstart.sh --help           # the settings (steps, sizes, device, output folder)
#   bash scripts/quickstart.sh --fresh          # start over instead of reusing what exists
#
# Sets up .venv (scripts/setup_env.sh: torch first, then the project), then runs `cdreasoning quickstart`:
# a synthetic SPCD-like set → a tiny random model fine-tuned (full, then LoRA) → scoring and describing the
# held-out pairs → CIEDE2000, S-CIELAB and a small CD-Flow on the same pairs → leaderboard and report.
# Each step prints the `cdreasoning` command it runs. Rerunning reuses finished steps.
set -euo pipefail
cd "$(dirname "$0")/.."
# --help answers before anything is installed: the quickstart's parser needs only the standard library (the
# package face is lazy), so any Python ≥ 3.10 can print it from this checkout.
for arg in "$@"; do
  case "$arg" in
    -h | --help)
      if [ -x "${VENV:-.venv}/bin/python" ]; then HELP_PY="${VENV:-.venv}/bin/python"; else HELP_PY="${PYTHON:-python3}"; fi
      exec "$HELP_PY" -m cdreasoning quickstart --help
      ;;
  esac
done
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${VENV:-.venv}/bin/python" -m cdreasoning quickstart "$@"
