#!/usr/bin/env bash
# Runs the whole suite. Starts the services tests use (PostgreSQL on a private socket dir and port) and
# stops them afterwards, whatever the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
cleanup() { bash scripts/test-services.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
eval "$(bash scripts/test-services.sh start)"
mkdir -p test-artifacts
$PY -m pytest -q -p no:cacheprovider "$@"
