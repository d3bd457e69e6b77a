#!/bin/bash
# Issue #13 items 2-3 (+ #12 item 7), device side: one step-time profile + the live burst experiment
# per vLLM attention backend, each in its own in-process engine (python -m l4bench.profiling), one
# backend after the other on one GPU (Llama-3.1-8B architecture, dummy weights, vLLM 0.25.0).
#
#   BACKENDS="FLASH_ATTN TRITON_ATTN" BUDGET_S=560 bash scripts/gpu_profiles.sh
#
# Results: $OUT/profiles/<GPU>/llama-3.1-8b/<backend>/{profile.csv, profile_samples.csv, meta.json,
# burst.json, profile.log}; copy them to results/profiles/<GPU>/llama-3.1-8b/<backend>/.
#   BACKENDS      default (vLLM's choice) or vLLM names (FLASH_ATTN = FA3 on Hopper, TRITON_ATTN, FLASHINFER) or FLASH_ATTN_2
#                 (needs vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so staged; skipped in one line otherwise)
#   BUDGET_S      the whole call. Each backend gets an equal share of what is left (at most
#                 MAX_BACKEND_S=420), or TARGET_S=270 when the shares would drop below MIN_BACKEND_S=200
#                 (then the last backends are skipped rather than all cut short); what finished is kept.
#                 One backend takes ~100-140 s start-up (torch.compile + CUDA graphs) + the profile
#                 (~100-150 s for the whole grid; the premise rows, priority 1, ~40 s) + the burst (~40 s):
#                 two backends fit BUDGET_S=560 with part of the fitting grid, one fits a 420-s call whole.
#   GRID=backend PASSES=3 MAX_PRIORITY= BURST_REPEATS=2   the profile's size
#   COMPILE=default (vLLM's torch.compile + CUDA graphs, as the H100 profile) | decode_graphs
#   GPU=h200      the results folder name;  REHEARSAL=1: the same flow on CPU (tiny-llama, vLLM CPU build)
set -u
BACKENDS=${BACKENDS:-"FLASH_ATTN TRITON_ATTN FLASH_ATTN_2"}
BUDGET_S=${BUDGET_S:-560}
MAX_BACKEND_S=${MAX_BACKEND_S:-420}
MIN_BACKEND_S=${MIN_BACKEND_S:-200}
TARGET_S=${TARGET_S:-270}
GRID=${GRID:-backend}
PASSES=${PASSES:-3}
BURST_REPEATS=${BURST_REPEATS:-2}
OUT=${OUT:-/tmp/l4out}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [ "${REHEARSAL:-0}" = 1 ]; then
  PY=${L4BENCH_ENGINE_PYTHON:-.venv-engine/bin/python}; MODEL=l4bench/models/tiny-llama; GPU=${GPU:-cpu}
  GRID=${GRID_REHEARSAL:-backend_smoke}
  FLAGS=(--max-model-len 8192 --max-num-batched-tokens 2048 --max-num-seqs 128 --enforce-eager
         --burst-scale 16 --burst-output-tokens 32 --burst-reserve-s 200)
  export VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=${VLLM_CPU_OMP_THREADS_BIND:-0}
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  PY=python3; MODEL=l4bench/models/llama-3.1-8b; GPU=${GPU:-h200}
  FLAGS=(--burst-reserve-s 45)
  if [ ! -d /tmp/site/vllm ]; then   # not staged yet in this machine
    source /tmp/gpu-stage/install.sh || { echo "vLLM not staged: /tmp/gpu-stage/install.sh failed"; exit 1; }
  fi
  export PYTHONPATH=$PWD:/tmp/site VLLM_USE_FLASHINFER_SAMPLER=0
  if [ "${COMPILE:-default}" = decode_graphs ]; then
    FLAGS+=(--engine-kwargs '{"compilation_config": {"mode": 0, "cudagraph_mode": "FULL_DECODE_ONLY"}}')
  fi
  nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv
fi
[ -n "${MAX_PRIORITY:-}" ] && FLAGS+=(--max-priority "$MAX_PRIORITY")
ROOT=$OUT/profiles/$GPU/$(basename $MODEL)
mkdir -p "$ROOT"
echo "backends: $BACKENDS; budget ${BUDGET_S}s; staged at ${SECONDS}s"

gpu_free() {  # wait until the GPU holds < 2 GiB (the last engine's memory is back); 0 when it is
  [ "${REHEARSAL:-0}" = 1 ] && return 0
  local used i
  for i in $(seq 30); do
    used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    [ "${used:-99999}" -lt 2048 ] && return 0
    sleep 2
  done
  echo "GPU memory still in use: ${used} MiB"; nvidia-smi --query-compute-apps=pid,used_memory --format=csv
  return 1
}

has_fa2() {
  $PY -c "import importlib.util as u, pathlib as p, sys; s = u.find_spec('vllm');
sys.exit(0 if (p.Path(s.origin).parent / 'vllm_flash_attn' / '_vllm_fa2_C.abi3.so').exists() else 1)"
}

read -r -a TODO <<< "$BACKENDS"
for k in "${!TODO[@]}"; do
  B=${TODO[$k]}
  left=$((BUDGET_S - SECONDS - 15))
  if [ $left -lt $MIN_BACKEND_S ]; then echo "== $B: skipped, ${left}s left (< MIN_BACKEND_S=$MIN_BACKEND_S)"; continue; fi
  share=$((left / (${#TODO[@]} - k)))
  [ $share -lt $MIN_BACKEND_S ] && share=$TARGET_S
  [ $share -gt $MAX_BACKEND_S ] && share=$MAX_BACKEND_S
  if [ "$B" = FLASH_ATTN_2 ] && ! has_fa2; then
    echo "== $B: skipped, FlashAttention 2 extension not staged (stage_engine.py --keep vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so)"
    continue
  fi
  gpu_free || { echo "== $B: skipped, GPU not free"; continue; }
  tb=$(( left < share ? left : share ))
  dir=$ROOT/$B; mkdir -p "$dir"
  ab=(--attention-backend "$B"); [ "$B" = default ] && ab=()   # default: vLLM's own choice
  echo "== $B: budget ${tb}s at ${SECONDS}s -> $dir"
  timeout -k 10 $((tb + 20)) "$PY" -m l4bench.profiling --model-dir $MODEL --out "$dir" --grid "$GRID" \
    ${ab[@]+"${ab[@]}"} --passes "$PASSES" --burst --burst-repeats "$BURST_REPEATS" --no-fit \
    --time-budget-s "$((tb - 10))" "${FLAGS[@]}" > "$dir/profile.log" 2>&1
  echo "   rc=$? at ${SECONDS}s"
  grep -E "^(\[profile\] engine up|\[profile\] deadline|\[burst\]|Traceback|error:|[A-Za-z]+Error)" "$dir/profile.log" | tail -8
  "$PY" -m l4bench.profiling.summary "$dir"
done
gpu_free
ls -la "$ROOT"/*
