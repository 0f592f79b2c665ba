#!/usr/bin/env bash
# Installs what is missing and nothing else (scripts/demo.sh and scripts/test.sh do this first anyway).
# Then activate the environment with: source .venv/bin/activate
set -euo pipefail
source "$(dirname "$0")/_env.sh"
swiftspike_env
