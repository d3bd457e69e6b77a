#!/bin/bash
# Issue #13, the device calls that finish it (after .gpu-stage/part00..04 are in /tmp/gpu-stage):
#   bash scripts/gpu_premise_rest.sh kernels               # part05 + install, then the Triton/FlashInfer/SGLang
#                                                          # kernel columns merged onto the committed FA3/FA2 ones
#   bash scripts/gpu_premise_rest.sh profile BACKEND BUDGET_S   # one whole engine profile (grid `backend`) + burst
# Everything lands in $OUT/*.tgz (deep folders do not come back one by one).
set -u
MODE=${1:?kernels | profile BACKEND BUDGET_S}
export PYTHONUNBUFFERED=1
if [ "$MODE" = kernels ]; then
  mkdir -p /tmp/gpu-stage && cp .gpu-stage/part05/* /tmp/gpu-stage/ || exit 1
  source /tmp/gpu-stage/install.sh || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu-stage/whl/*.whl || exit 1
  mkdir -p "$OUT/kernels" && cp results/kernels/h200/vllm-0.25.0/kernels.{csv,json} "$OUT/kernels/"
  BUDGET_S=${KERNEL_BUDGET_S:-150} bash scripts/gpu_kernels.sh --backends triton,flashinfer,sglang_triton --merge
  rc=$?
  (cd "$OUT" && tar czf kernels.tgz kernels)
  exit $rc
fi
if [ "$MODE" = profile ]; then
  B=${2:?backend}; BUDGET=${3:?budget seconds}
  BACKENDS="$B" BUDGET_S=$BUDGET MAX_BACKEND_S=$BUDGET MIN_BACKEND_S=100 bash scripts/gpu_profiles.sh
  rc=$?
  (cd "$OUT" && tar czf "profile_$B.tgz" profiles && rm -rf profiles)
  exit $rc
fi
echo "unknown mode $MODE"; exit 2
