#!/usr/bin/env bash
# GPU check. Where torch finds a CUDA GPU:
#   1. runs the test suite's device tests on it (pytest -m device: every test parametrised over cpu and cuda,
#      plus the Trainer's device and precision tests),
#   2. times `swiftspike bench lif --device cuda` (timings are ratios against the peers in the same run),
#   3. trains the demo with --device cuda (float32, then bf16 and fp16 autocast, 3 epochs each).
# Without a CUDA GPU it prints one line saying so and exits 0.
#
# Usage: bash scripts/gpu_check.sh            (PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: nvidia-smi sees a GPU but this torch has no CUDA support ($("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'torch missing')); nothing checked"
  else
    echo "gpu_check: no CUDA GPU available (torch.cuda.is_available() is false); nothing to check"
  fi
  exit 0
fi

now() { date +%s.%N; }
secs() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

echo "== GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"

echo "== device tests (cpu and cuda)"
t0=$(now)
"$PY" -m pytest -q -p no:cacheprovider -m device tests
"$PY" -m pytest -q -p no:cacheprovider tests/test_training_workflows.py -k "device or precision"
echo "device tests: $(secs "$t0" "$(now)") s"

echo "== swiftspike bench lif --device cuda"
t0=$(now)
"$PY" -m swiftspike bench lif --device cuda --repeats 5 --json --out runs/gpu_check/bench_lif_cuda.json | tail -n 30
echo "bench lif on cuda: $(secs "$t0" "$(now)") s wall (result: runs/gpu_check/bench_lif_cuda.json)"

echo "== swiftspike demo --device cuda"
for precision in float32 bf16 fp16; do
  epochs=20; [ "$precision" = float32 ] || epochs=3
  t0=$(now)
  line=$("$PY" -m swiftspike demo --device cuda --precision "$precision" --epochs "$epochs" --json --quiet | tail -n 1)
  "$PY" -c "import json, sys; r = json.loads(sys.argv[1]); print(f'demo cuda {sys.argv[2]} ({sys.argv[3]} epochs): accuracy {100 * r[\"accuracy\"]:.2f} %, spikes/sample {r[\"spikes_per_sample\"]:.1f}, train {r[\"extra\"][\"train_seconds\"]} s')" "$line" "$precision" "$epochs"
  echo "  wall $(secs "$t0" "$(now)") s"
done
echo "gpu_check: all checks passed"
