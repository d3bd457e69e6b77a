#!/usr/bin/env bash
# Build (or verify) a venv with smg 1.13.0 (SGLang Model Gateway, `smg launch`), the external
# baseline router of conf/scheduler/smg_*.yaml and benchmarks/bench_router.py. It gets its own
# venv: its wheel is a Rust binary plus a few Python deps, and keeping it apart from the engine venv
# keeps both installs small and their pins independent. Idempotent (exits at once when installed).
# Usage: bash scripts/setup_smg.sh [VENV_DIR]   (default .venv-smg)
# Afterwards: export L4BENCH_SMG_BIN=$VENV_DIR/bin/smg
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${L4BENCH_SMG_VENV:-.venv-smg}}
PY=${PYTHON:-python3}
VERSION=1.13.0

check() {
  "$VENV/bin/python" -c "import importlib.metadata as md, sys; sys.exit(md.version('smg') != '$VERSION')" 2>/dev/null \
    && [ -x "$VENV/bin/smg" ]
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "smg venv $VENV: ok (smg $VERSION)"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "smg==$VERSION"
check || { echo "smg venv $VENV: install finished but the check failed" >&2; exit 1; }
echo "smg venv $VENV: installed"
