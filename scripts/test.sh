#!/usr/bin/env bash
# Fresh machine -> every CPU test. Installs l4bench (+test extras) into .venv and, for the live
# tests, vLLM's CPU build into .venv-engine, AIPerf into .venv-clients and smg into .venv-smg (set
# L4BENCH_SKIP_LIVE=1 to skip those), then runs pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,ray]'
if [ "${L4BENCH_SKIP_LIVE:-0}" != 1 ] && [ -f scripts/setup_live_cpu.sh ]; then
  bash scripts/setup_live_cpu.sh .venv-engine
  export L4BENCH_ENGINE_PYTHON="$PWD/.venv-engine/bin/python"
  # AIPerf, driven through l4bench-router by tests/live/test_real_clients.py
  bash scripts/setup_clients.sh .venv-clients
  export L4BENCH_CLIENTS_PYTHON="$PWD/.venv-clients/bin/python"
  bash scripts/setup_smg.sh .venv-smg   # smg 1.13.0, the third external router (~1 min, once)
  export L4BENCH_SMG_BIN="$PWD/.venv-smg/bin/smg"
fi
if [ -z "${L4BENCH_DATA_DIR:-}" ] && [ -d ../shared/workloads ]; then
  export L4BENCH_DATA_DIR="$(cd ../shared/workloads && pwd)"
fi
.venv/bin/python -m ruff check l4bench tests benchmarks scripts paper_figs
.venv/bin/python -m mypy l4bench/l4   # the reusable core is kept mypy --strict clean
exec .venv/bin/python -m pytest -m "not gpu" -q "$@"
