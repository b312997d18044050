#!/usr/bin/env bash
# The product in one command: set up, load the southwest sample into an empty SQLite database under
# data/, run the first forecasts and KPIs, then start the scheduler and the dashboard on :8501.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/territory run "$@"
