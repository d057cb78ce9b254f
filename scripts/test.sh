#!/usr/bin/env bash
# The tests: set up, then run the whole suite (pass -m "not slow" to skip real-model fine-tunes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
