# shellcheck shell=bash
# Sourced by scripts/demo.sh, scripts/test.sh and scripts/setup.sh. `swiftspike_env` makes sure a
# virtual environment holds swiftspike and everything its tests use, installing only what is missing
# (a second run checks installed versions and installs nothing), then sets PY to its python.
#
#   venv:   $VIRTUAL_ENV when one is active, else $SWIFTSPIKE_VENV, else <repo>/.venv (created here);
#           SWIFTSPIKE_NO_VENV=1 installs into the current python3 instead.
#   extras: SWIFTSPIKE_EXTRAS (default "all"); "all,dev" adds ruff, mypy, pytest-cov and pre-commit.
#   order:  torch 2.13.0 (CPU) first, so that nothing asks pip for a CUDA build; swiftspike with every
#           extra; the small packages the peer libraries import; the peers last, with --no-deps
#           (their declared torchvision/torchaudio would pull a CUDA torch). Because the peers come
#           last and pip does not check dependencies for --no-deps installs, pip never prints an
#           ERROR about a peer's undeclared needs.

SWIFTSPIKE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1

# The peer libraries used by the tests and by `swiftspike bench` (side-by-side checks and timings).
SWIFTSPIKE_PEERS=(snntorch==1.0.0 spikingjelly==2.0.0 norse==1.1.0 nirtorch==2.6 neurobench==2.3.0 tonic==1.7.0)
# What those peers import but do not get with --no-deps (numpy, scipy, h5py, tqdm come with swiftspike[all]).
SWIFTSPIKE_PEER_NEEDS=(loguru pbr requests importRosbag expelliarmus)

_swiftspike_python() {
  if [ "${SWIFTSPIKE_NO_VENV:-0}" = "1" ]; then
    PY="$(command -v python3)"
  elif [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
  else
    local venv="${SWIFTSPIKE_VENV:-$SWIFTSPIKE_ROOT/.venv}"
    if [ ! -x "$venv/bin/python" ]; then
      echo "setup: creating the virtual environment $venv"
      python3 -m venv "$venv"
    fi
    PY="$venv/bin/python"
  fi
}

# Succeeds when every named distribution is installed (at the pinned version where one is given).
_swiftspike_have() {
  "$PY" - "$@" <<'PYEOF'
import sys
from importlib.metadata import PackageNotFoundError, version

missing = []
for req in sys.argv[1:]:
    name, _, want = req.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        missing.append(req)
        continue
    if want and have.split("+")[0] != want:
        missing.append(f"{req} (have {have})")
sys.exit(1 if missing else 0)
PYEOF
}

_swiftspike_pip() {
  echo "setup: pip install $*"
  # The filter drops only pip's notes about package-index folders named in a machine-wide pip
  # configuration that do not exist on this machine; everything else pip prints is shown.
  "$PY" -m pip install -q "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory.$" || true; }
}

swiftspike_env() {
  _swiftspike_python
  # 1. torch: any installed release the project supports is kept (a CUDA build you installed stays);
  #    when none is there, the CPU build 2.13.0.
  if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    _swiftspike_pip torch==2.13.0
  fi
  # 2. swiftspike (editable) with every extra; redone when pyproject.toml or the extras asked for change.
  local stamp stamp_file
  local extras="${SWIFTSPIKE_EXTRAS:-all}"
  stamp="$(cd "$SWIFTSPIKE_ROOT" && sha256sum pyproject.toml | cut -c1-16) $SWIFTSPIKE_ROOT[$extras]"
  stamp_file="$("$PY" -c 'import sys; print(sys.prefix)')/.swiftspike-setup"
  if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ] || ! _swiftspike_have swiftspike; then
    _swiftspike_pip -e "$SWIFTSPIKE_ROOT[$extras]"
    echo "$stamp" > "$stamp_file"
  fi
  # 3. the small packages the peers import, then 4. the peers themselves without their declared deps.
  _swiftspike_have "${SWIFTSPIKE_PEER_NEEDS[@]}" || _swiftspike_pip "${SWIFTSPIKE_PEER_NEEDS[@]}"
  _swiftspike_have "${SWIFTSPIKE_PEERS[@]}" || _swiftspike_pip --no-deps "${SWIFTSPIKE_PEERS[@]}"
  echo "setup: ready ($("$PY" -c 'import sys, swiftspike, torch; print(f"swiftspike {swiftspike.__version__}, torch {torch.__version__}, {sys.prefix}")'))"
}
