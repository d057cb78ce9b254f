#!/usr/bin/env bash
# The main job: set up, then train on the bundled demo reviews, evaluate, and label new reviews.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/samiksha demo "$@"
