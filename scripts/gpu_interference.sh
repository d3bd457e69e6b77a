#!/bin/bash
# Device side of benchmarks/shared_gpu_interference.py: two vLLM 0.25.0 servers SHARING GPU 0
# (TRITON_ATTN by default, CUDA graphs FULL_DECODE_ONLY, 16 GiB of KV cache each, dummy Llama-3.1-8B),
# then the probe. Earlier calls copy .gpu-stage/part00.. into /tmp/gpu-stage; this call carries the last
# part and .whl is not needed.   [B_LOADS=idle,short8,short,short128,long] bash scripts/gpu_interference.sh .gpu-stage/part05 [BACKEND]
set -u
PART=${1:?last part}; BACKEND=${2:-TRITON_ATTN}
PORTS=(8100 8101)
export PYTHONUNBUFFERED=1
cp "$PART"/* /tmp/gpu-stage/ && source /tmp/gpu-stage/install.sh || exit 1
source scripts/gpu_common.sh
rm -rf /tmp/l4model && cp -r l4bench/models/llama-3.1-8b /tmp/l4model
for i in 0 1; do
  CUDA_VISIBLE_DEVICES=0 setsid nohup python3 -m vllm.entrypoints.openai.api_server --model /tmp/l4model \
    --served-model-name llama-3.1-8b --host 127.0.0.1 --port ${PORTS[$i]} --load-format dummy \
    --skip-tokenizer-init --max-model-len 32768 --max-num-seqs 256 --max-num-batched-tokens 8192 \
    --gpu-memory-utilization 0.42 --kv-cache-memory-bytes 17179869184 --attention-backend "$BACKEND" \
    --compilation-config '{"mode": 0, "cudagraph_mode": "FULL_DECODE_ONLY"}' > /tmp/srv$i.log 2>&1 < /dev/null &
  echo $! > /tmp/srv$i.pid
done
wait_ready 300 /tmp/srv || exit 1
echo "servers ready at ${SECONDS}s"; grep -h -i "backend" /tmp/srv0.log | head -3
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 benchmarks/shared_gpu_interference.py --a http://127.0.0.1:8100 --b http://127.0.0.1:8101 \
  --model llama-3.1-8b --out "$OUT/interference_$BACKEND.json" --repeats 2 --b-loads "${B_LOADS:-idle,short,long}" 2>&1 | tee "$OUT/probe.txt"
echo "done at ${SECONDS}s"
stop_servers /tmp/srv
