#!/usr/bin/env bash
# The whole test suite in one command: set up, install Chromium (end-to-end tests) and PostgreSQL
# from the OS packages when missing (needs root or sudo), start a throwaway PostgreSQL cluster on
# localhost so every database test runs on SQLite and on PostgreSQL, run pytest, stop the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# shellcheck source=scripts/pg_cluster.sh
source scripts/pg_cluster.sh
trap pg_cluster_stop EXIT
pg_cluster_start || { echo "cannot start the PostgreSQL test cluster" >&2; exit 1; }
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
