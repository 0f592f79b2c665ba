#!/usr/bin/env bash
# Installs what is missing (see scripts/_env.sh: a virtual environment in .venv), then runs the test
# suite. Extra arguments go to pytest: bash scripts/test.sh -m 'not slow'   (skip the long end-to-end
# tests), bash scripts/test.sh --cov   (with a coverage report), bash scripts/test.sh tests/test_nir.py
set -euo pipefail
source "$(dirname "$0")/_env.sh"
swiftspike_env
cd "$SWIFTSPIKE_ROOT"
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
