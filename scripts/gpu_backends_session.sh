#!/bin/bash
# One GPU call of the per-backend session (issues #13, #12 item 6), after .gpu-stage/part00..04 are in
# /tmp/gpu-stage: the last part + install, then (in the background, niced, 8 cores) the simulator
# evaluation with 5 repeats, the kernel benchmark, and the per-backend engine profiles + burst.
#   bash scripts/gpu_backends_session.sh start "TRITON_ATTN FLASH_ATTN" PROFILE_BUDGET_S
#   bash scripts/gpu_backends_session.sh collect       # copy the finished simulator runs to $OUT
set -u
MODE=${1:-start}
if [ "$MODE" = start ]; then
  mkdir -p /tmp/gpu-stage && cp .gpu-stage/part05/* /tmp/gpu-stage/ || exit 1
  source /tmp/gpu-stage/install.sh || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu-stage/whl/*.whl || exit 1
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv
  rm -rf /tmp/l4data && cp -r .cache/data /tmp/l4data
  (L4BENCH_DATA_DIR=/tmp/l4data OUT_DIR=/tmp/simeval/r4 JOBS=${SIM_JOBS:-8} REPEATS=5 \
     setsid nohup nice -n 19 bash scripts/sim_eval.sh all > /tmp/simeval.log 2>&1 < /dev/null &)
  BUDGET_S=${KERNEL_BUDGET_S:-100} bash scripts/gpu_kernels.sh
  BACKENDS="$2" BUDGET_S=$3 bash scripts/gpu_profiles.sh
fi
if [ "$MODE" = collect ]; then
  tail -3 /tmp/simeval.log
  mkdir -p "$OUT/simeval" && (cd /tmp/simeval && find . -name 'summary.json' -o -name 'comparison.csv' -o -name 'config_resolved.yaml' -o -name 'jobs.txt' | tar czf "$OUT/simeval/simeval.tgz" -T -)
  ls -la "$OUT/simeval"
fi
