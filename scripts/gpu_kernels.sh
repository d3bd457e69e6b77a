#!/bin/bash
# Issue #13 item 1, device side: the decode-attention kernel benchmark, `python -m l4bench.profiling.kernels`
# (one Llama-3.1-8B attention layer; vLLM 0.25.0's FA3, FA3 eager-mode splits, FA2, Triton unified attention,
# FlashInfer decode wrapper).   BUDGET_S=150 bash scripts/gpu_kernels.sh [extra benchmark flags]
# Needs vLLM 0.25.0 staged in /tmp/gpu-stage (install.sh is sourced here unless /tmp/site/vllm exists).
# BUDGET_S (default 150): no new pass or backend starts after it; the run is killed at BUDGET_S + 150 s.
# Result: $OUT/kernels/{kernels.csv,kernels.json,README.md}, written after every backend; the table is printed.
set -u
BUDGET_S=${BUDGET_S:-150}
export PYTHONUNBUFFERED=1
if [ ! -d /tmp/site/vllm ]; then
  source /tmp/gpu-stage/install.sh || { echo "gpu_kernels: source /tmp/gpu-stage/install.sh failed"; exit 1; }
fi
case ":${PYTHONPATH:-}:" in *:/tmp/site:*) ;; *) export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} ;; esac
export PYTHONPATH=$PWD:$PYTHONPATH VLLM_USE_FLASHINFER_SAMPLER=0
RES=${OUT:-/tmp/l4out}/kernels
mkdir -p "$RES"
echo "gpu_kernels: nvcc $(command -v nvcc || echo 'not on PATH (FlashInfer JIT may fail)'); budget ${BUDGET_S}s; out $RES"
nvidia-smi --query-gpu=name,driver_version,memory.used,clocks.max.sm --format=csv,noheader
timeout $((BUDGET_S + 150)) python3 -m l4bench.profiling.kernels --out "$RES" --budget-s "$BUDGET_S" "$@"
rc=$?
[ $rc = 124 ] && echo "gpu_kernels: killed at $((BUDGET_S + 150)) s; the tables hold the backends finished by then"
[ -f "$RES/README.md" ] && cat "$RES/README.md"
exit $rc
