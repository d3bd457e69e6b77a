#!/bin/bash
# Issue 16 item 3 on the GPU host: two vLLM 0.25.0 servers SHARING one GPU (0.42 of its memory each),
# both with a NIXL connector (kv_both; KV_CONNECTOR below), then scripts/gpu_nixl_probe.py: hop stall vs context length,
# KV transfer vs recompute. Needs the vLLM parts in /tmp/gpu-stage (part05 is copied here) and the two
# NIXL parts (scripts/stage_nixl.sh: .gpu-stage-nixl/p0, p1) in /tmp/nixl-stage.
#   BUDGET_S=480 bash scripts/gpu_nixl.sh        -> $OUT/nixl/{nixl_probe.json, probe.log, instance-*.log}
# Environment: KV_CONNECTOR (default NixlConnector = vLLM's pull mode, the destination READs the KV;
#   NixlPushConnector: the source WRITEs it), STAGE_LAST (the last staged vLLM part, default
#   .gpu-stage/part05), LENGTHS / TRIALS (the probe's), UCX_PROTO_INFO=y (default: UCX prints the
#   protocol and transport it picks per operation into the instance logs; kept in ucx_proto.txt),
#   any other UCX_* variable (passed to both servers and recorded in run_env.json's ucx_env: e.g.
#   UCX_TLS=cuda_ipc,cuda_copy,tcp UCX_CUDA_IPC_ENABLE_GET_ZCOPY=on lets a pull READ use CUDA IPC
#   on a GPU without NVLink peers, where UCX's "auto" turns CUDA IPC's GET off),
#   L4BENCH_CODE_COMMIT (recorded in run_env.json: the device copy's .git is stale).
set -u
BUDGET_S=${BUDGET_S:-480}
KV_CONNECTOR=${KV_CONNECTOR:-NixlConnector}
R=$OUT/nixl; mkdir -p "$R"
mkdir -p /tmp/gpu-stage && cp "${STAGE_LAST:-.gpu-stage/part05}"/* /tmp/gpu-stage/ || exit 1
source /tmp/gpu-stage/install.sh > "$R/install.log" 2>&1 || { tail -5 "$R/install.log"; exit 1; }
cat /tmp/nixl-stage/nixl_cu13.whl.chunk0* > /tmp/nixl_cu13-1.5.1-cp312-cp312-manylinux_2_28_x86_64.whl
echo "$(cat /tmp/nixl-stage/nixl_cu13.sha256)  /tmp/nixl_cu13-1.5.1-cp312-cp312-manylinux_2_28_x86_64.whl" | sha256sum -c - || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
  /tmp/nixl_cu13-1.5.1-cp312-cp312-manylinux_2_28_x86_64.whl /tmp/nixl-stage/nixl-1.5.1-py3-none-any.whl || exit 1
export PYTHONPATH=/tmp/site VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1 UCX_PROTO_INFO=${UCX_PROTO_INFO:-y}
PROBE_PATH=$PWD:/tmp/site   # the probe imports l4bench.l4.migration
python3 -c "import nixl, nixl._api as a; print('nixl import ok', nixl.__file__, a.nixl_agent)" 2>&1 | tail -2 | tee "$R/nixl_import.txt"
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.used --format=csv,noheader | head -1); echo "$GPU"
KV="{\"kv_connector\":\"$KV_CONNECTOR\",\"kv_role\":\"kv_both\"}"
python3 - "$R/run_env.json" "$KV" "$GPU" <<'PY'
import json, sys, datetime, importlib.metadata as md, os
def version(p):
    try:
        return md.version(p)
    except md.PackageNotFoundError:
        return None
v = {p: version(p) for p in ("vllm", "nixl", "nixl-cu13", "torch")}
json.dump({"kv_transfer_config": sys.argv[2], "gpu": sys.argv[3], "versions": v,
           "ucx_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("UCX_")},
           "code_commit": os.environ.get("L4BENCH_CODE_COMMIT"),
           "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
          open(sys.argv[1], "w"), indent=1)
PY
cat "$R/run_env.json"
start() {  # PORT SIDE_PORT LOG
  VLLM_NIXL_SIDE_CHANNEL_PORT=$2 setsid python3 -m vllm.entrypoints.openai.api_server --model l4bench/models/llama-3.1-8b \
    --served-model-name llama --load-format dummy --skip-tokenizer-init --enforce-eager --port $1 \
    --gpu-memory-utilization 0.42 --max-model-len 70000 --max-num-batched-tokens 8192 --no-enable-prefix-caching \
    --kv-transfer-config "$KV" > "$3" 2>&1 &
  echo $!
}
wait_up() {  # PORT PID
  for i in $(seq 150); do
    curl -sf localhost:$1/health > /dev/null && return 0
    kill -0 $2 2>/dev/null || return 1
    sleep 2
  done
  return 1
}
A=$(start 8100 5600 "$R/instance-0.log"); wait_up 8100 $A || { echo "A did not start"; tail -30 "$R/instance-0.log"; }
echo "A up at ${SECONDS}s"
B=$(start 8101 5601 "$R/instance-1.log"); wait_up 8101 $B || { echo "B did not start"; tail -30 "$R/instance-1.log"; }
echo "B up at ${SECONDS}s"
left=$((BUDGET_S - SECONDS - 30))
PYTHONPATH=$PROBE_PATH timeout $((left + 20)) python3 scripts/gpu_nixl_probe.py --src http://127.0.0.1:8100 --dst http://127.0.0.1:8101 \
  --budget-s $left --connector "$KV_CONNECTOR" --lengths "${LENGTHS:-1024,4096,16384,32768,65536}" \
  --trials "${TRIALS:-3}" --out "$R/nixl_probe.json" 2>&1 | tee "$R/probe.log" | tail -25
curl -s localhost:8101/metrics | grep -i nixl | head -20 > "$R/dst_metrics_nixl.txt"
grep -iE "nixl|kv_transfer|error" "$R/instance-1.log" | tail -15
grep -hE "ucp_context|UCX +INFO|\| *(put|get|rma)|cuda_ipc|tcp/" "$R"/instance-*.log | sort | uniq -c | sort -rn | head -80 > "$R/ucx_proto.txt"
head -30 "$R/ucx_proto.txt"
kill -- -$A -$B 2>/dev/null; sleep 3; pkill -f vllm.entrypoints 2>/dev/null
echo "done at ${SECONDS}s"
