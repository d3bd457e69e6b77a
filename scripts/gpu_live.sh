#!/bin/bash
# Issue #5, live part, device side: 2 vLLM 0.25.0 servers (Llama-3.1-8B architecture, dummy weights,
# decode steps in full CUDA graphs without torch.compile), then `python -m l4bench -m
# +experiment=$EXPERIMENT` attached to them, one Hydra job per rate.
#   EXPERIMENT=live_gpu_pair  GPUS="0 0" (default): both servers SHARE GPU 0, 16 GiB KV each
#   EXPERIMENT=live_gpu_pair2 GPUS="0 1": one GPU per server, 40 GiB KV each (nvidia-h100-x2)
#   COMPILE=default: vLLM's default compilation (torch.compile + FULL_AND_PIECEWISE graphs, as the
#   profile ran; start-up ~130-180 s) instead of full decode graphs without torch.compile (~90-120 s)
#
#   bash scripts/gpu_live.sh start  RATES BUDGET_S   # last transfer + install + start servers + run
#   bash scripts/gpu_live.sh attach RATES BUDGET_S   # next call on the same warm machine: servers still up;
#                                                    # first finishes the rate `start` was cut off in, then RATES (- for none)
#
# Earlier calls copy .gpu-stage/part00..03 (+ the moved wheels) into /tmp/gpu-stage; `start` copies
# the last part (.gpu-stage/p04a: install.sh, vllm-router 0.1.17, orjson) and .whl (hydra, omegaconf).
# The servers run in their own session (setsid) so a later call can reuse them. Results come back as
# $OUT/res_<mode>.tgz (summary.json, comparison.csv, config_resolved.yaml, requests.parquet, logs).
# REHEARSAL=1: the same flow on a CPU box (tiny-llama, vLLM's CPU build in /work/venv-vllm).
set -u
MODE=${1:-start}
RATES=${2:-1.5,3.0}
BUDGET_S=${3:-570}
RES=/tmp/l4res
EXPERIMENT=${EXPERIMENT:-live_gpu_pair}
# shellcheck disable=SC2206
USER_EXTRA=(${L4_EXTRA:-})   # more Hydra overrides, e.g. L4_EXTRA="experiment.schedulers=[l4,least_requests]"
todo=""
read -r -a GPU_OF <<< "${GPUS:-0 0}"
PORTS=(8100 8101)
URLS="[http://127.0.0.1:${PORTS[0]},http://127.0.0.1:${PORTS[1]}]"
export PYTHONUNBUFFERED=1
mkdir -p "$RES" "$OUT"

if [ "${REHEARSAL:-0}" = 1 ]; then
  SRV_PY=/work/venv-vllm/bin/python; L4_PY=.venv/bin/python; MODEL_SRC=l4bench/models/tiny-llama
  SRV_FLAGS=(--max-model-len 4160 --max-num-seqs 64 --max-num-batched-tokens 4160 --enforce-eager)
  EXTRA=(model=tiny-llama cluster.max_model_len=4160 cluster.max_num_seqs=64
         cluster.max_num_batched_tokens=4160 cluster.kv_capacity_tokens=1048576
         workload.short_tokens=256 workload.long_tokens=3072 workload.num_requests=30
         arrival.max_duration_s=10 perf=analytic)
  export VLLM_CPU_KVCACHE_SPACE=1
  GRAPH_MODE="CPU rehearsal (eager)"
else
  SRV_PY=python3; L4_PY=python3; MODEL_SRC=l4bench/models/llama-3.1-8b
  if [ "${GPU_OF[0]}" = "${GPU_OF[1]}" ]; then MEM=(0.42 17179869184); else MEM=(0.85 42949672960); fi
  SRV_FLAGS=(--max-model-len 32768 --max-num-seqs 256 --max-num-batched-tokens 8192
             --gpu-memory-utilization ${MEM[0]} --kv-cache-memory-bytes ${MEM[1]})
  if [ "${COMPILE:-decode_graphs}" = default ]; then  # vLLM's default: torch.compile + FULL_AND_PIECEWISE graphs (as profiled)
    GRAPHS=(); GRAPH_MODE="vLLM default: torch.compile + FULL_AND_PIECEWISE CUDA graphs"
  else
    GRAPHS=(--compilation-config '{"mode": 0, "cudagraph_mode": "FULL_DECODE_ONLY"}')
    GRAPH_MODE="graphs: FULL_DECODE_ONLY, no torch.compile"
  fi
  EXTRA=()
fi
EXTRA+=("${USER_EXTRA[@]+"${USER_EXTRA[@]}"}")
export L4BENCH_ENGINE_PYTHON=$SRV_PY

start_servers() {  # extra vLLM flags as arguments
  for i in 0 1; do
    if [ "${REHEARSAL:-0}" = 1 ]; then dev=(VLLM_CPU_OMP_THREADS_BIND=$i); else dev=(CUDA_VISIBLE_DEVICES=${GPU_OF[$i]}); fi
    env "${dev[@]}" VLLM_SERVER_DEV_MODE=1 setsid nohup "$SRV_PY" -m vllm.entrypoints.openai.api_server \
      --model /tmp/l4model --served-model-name "$(basename $MODEL_SRC)" --host 127.0.0.1 --port ${PORTS[$i]} \
      --load-format dummy --skip-tokenizer-init "${SRV_FLAGS[@]}" "$@" > /tmp/srv$i.log 2>&1 < /dev/null &
    echo $! > /tmp/srv$i.pid
  done
}

source scripts/gpu_common.sh   # wait_ready SECONDS PREFIX, stop_servers PREFIX

if [ "$MODE" = start ]; then
  if [ "${REHEARSAL:-0}" != 1 ]; then
    mkdir -p /tmp/gpu-stage && cp .gpu-stage/p04a/* /tmp/gpu-stage/ || exit 1
    source /tmp/gpu-stage/install.sh || exit 1
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv > $RES/nvidia_smi.csv
    cat $RES/nvidia_smi.csv
    (nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv -l 5 > $RES/gpu_usage.csv 2>&1 &)
  fi
  rm -rf /tmp/l4model && cp -r $MODEL_SRC /tmp/l4model
  echo "install done at ${SECONDS}s"
  start_servers "${GRAPHS[@]+"${GRAPHS[@]}"}"
  if ! wait_ready 300 /tmp/srv; then
    stop_servers /tmp/srv
    if [ "${COMPILE:-decode_graphs}" = default ]; then  # the known-good mode next, then eager
      FALLBACK=(--compilation-config '{"mode": 0, "cudagraph_mode": "FULL_DECODE_ONLY"}')
      GRAPH_MODE="graphs: FULL_DECODE_ONLY, no torch.compile (fallback)"
    else
      FALLBACK=(--enforce-eager); GRAPH_MODE="eager (fallback)"
    fi
    echo "falling back to ${FALLBACK[*]} at ${SECONDS}s"
    start_servers "${FALLBACK[@]}"
    wait_ready 240 /tmp/srv || exit 1
    echo "$GRAPH_MODE" > $RES/mode.txt
  else
    echo "$GRAPH_MODE" > $RES/mode.txt
  fi
  echo "servers ready at ${SECONDS}s"
else
  [ "${REHEARSAL:-0}" = 1 ] || export PYTHONPATH=/tmp/site VLLM_USE_FLASHINFER_SAMPLER=0
  # schedulers the `start` call did not reach at its last rate run first, at that rate
  todo=$(python3 - "$RES" <<'PY'
import json, pathlib, re, sys
res = pathlib.Path(sys.argv[1])
jobs = sorted(res.glob("m_start/*/config_resolved.yaml"), key=lambda p: int(p.parent.name))
if jobs:
    last = jobs[-1].parent
    cfg = (last / "config_resolved.yaml").read_text()
    want = re.search(r"^  schedulers:\n((?:  - .*\n)+)", cfg, re.M).group(1).split()[1::2]
    s = last / "summary.json"
    done = set(json.loads(s.read_text())["schedulers"]) if s.is_file() else set()
    rate = re.search(r"^  rate: (.*)$", cfg, re.M).group(1).strip()
    miss = [w for w in want if w not in done]
    if miss:
        print(rate, "[" + ",".join(miss) + "]")
PY
)
fi

run_l4bench() {  # RATES SWEEP_NAME [extra overrides]: one Hydra multirun within the call's budget
  local rates=$1 name=$2; shift 2
  local left=$((BUDGET_S - SECONDS - 20))
  echo "l4bench rates=$rates $* with ${left}s at ${SECONDS}s"
  timeout $left "$L4_PY" -m l4bench -m +experiment=$EXPERIMENT engine.launcher=attach "engine.urls=$URLS" \
    engine.python="$SRV_PY" "${EXTRA[@]+"${EXTRA[@]}"}" "$@" arrival.rate="$rates" results_dir=$RES \
    hydra.sweep.dir=$RES/m_$name >> $RES/l4bench_$MODE.log 2>&1
  echo "l4bench rc=$? at ${SECONDS}s"
}

if [ "$MODE" = attach ] && [ -n "$todo" ]; then  # finish the rate the start call was cut off in
  echo "resuming rate ${todo%% *}: ${todo#* }"
  run_l4bench "${todo%% *}" resume "experiment.schedulers=${todo#* }"
fi
[ "$RATES" = - ] || run_l4bench "$RATES" "$MODE"
grep -E "completed=|Error|error:|Traceback" $RES/l4bench_$MODE.log | tail -30
cp /tmp/srv0.log $RES/srv0.log; cp /tmp/srv1.log $RES/srv1.log
(cd $RES && tar czf $OUT/res_$MODE.tgz --exclude='*.png' --exclude='*.pdf' --exclude='*.svg' .)
ls -la $OUT
