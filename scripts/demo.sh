#!/usr/bin/env bash
# Installs what is missing (see scripts/_env.sh: a virtual environment in .venv), then runs
# `swiftspike demo`. Extra arguments go to the demo: bash scripts/demo.sh --json --plot plots/
set -euo pipefail
source "$(dirname "$0")/_env.sh"
swiftspike_env
cd "$SWIFTSPIKE_ROOT"
exec "$PY" -m swiftspike demo "$@"
