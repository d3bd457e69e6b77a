#!/usr/bin/env bash
# Build (or verify) the venv of the third-party benchmark clients (AIPerf), pinned in
# baselines/requirements-clients.txt; `vllm bench serve` comes with the engine venv instead.
# Idempotent: exits at once when the venv already has the pinned versions.
# Usage: bash scripts/setup_clients.sh [VENV_DIR]   (default .venv-clients)
# Afterwards: export L4BENCH_CLIENTS_PYTHON=$VENV_DIR/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${L4BENCH_CLIENTS_VENV:-.venv-clients}}
PY=${PYTHON:-python3}
REQS=baselines/requirements-clients.txt

check() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
sys.exit(0 if md.version("aiperf") == "0.13.0" else 1)
PY
  [ -x "$VENV/bin/aiperf" ]
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "clients venv $VENV: ok (aiperf 0.13.0)"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$REQS"
check || { echo "clients venv $VENV: install finished but the check failed" >&2; exit 1; }
echo "clients venv $VENV: installed"
