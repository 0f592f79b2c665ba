#!/usr/bin/env bash
# Install swiftspike with every extra. torch 2.13.0 goes first so that nothing pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e ".[all]"
# Peer libraries for side-by-side benchmarks: --no-deps (their declared torchvision would pull CUDA).
python3 -m pip install -q --no-deps snntorch==1.0.0 spikingjelly==2.0.0
python3 -m pip install -q loguru
echo "swiftspike installed: try 'swiftspike demo'"
