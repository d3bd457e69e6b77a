#!/bin/bash
# Issue #7, device side: 2 SGLang 0.5.16 servers (one per GPU, Llama-3.1-8B config, dummy weights) and
# `python -m l4bench -m +experiment=live_gpu_sglang` attached to them.   bash scripts/gpu_sglang.sh RATE BUDGET_S
# Needs /tmp/gpu-stage (vLLM parts, installed here if not yet) and /tmp/gpu-stage-sgl (SGLang parts from
# earlier calls; .gpu-stage-sgl/partNN present in this checkout are copied too). Result: $OUT/res_sglang.tgz
set -u
RATE=${1:-3.0}; BUDGET_S=${2:-570}; RES=/tmp/l4res_sgl; PORTS=(8200 8201)
export PYTHONUNBUFFERED=1 SGLANG_SKIP_SGL_KERNEL_VERSION_CHECK=1  # flashinfer retry: vLLM set has 0.6.13 (sglang asks >= 0.6.14)
mkdir -p "$RES" "$OUT" /tmp/gpu-stage-sgl
for d in .gpu-stage-sgl/part*; do [ -d "$d" ] && cp "$d"/* /tmp/gpu-stage-sgl/; done
[ -d /tmp/site/vllm ] || { source /tmp/gpu-stage/install.sh || exit 1; }
source /tmp/gpu-stage-sgl/install.sh || exit 1
[ -d .whl ] && python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
# JIT kernels (sglang.jit_kernel) need nvcc + g++: use the host's toolkit, else the staged CUDA 13.0 one
if ! command -v nvcc >/dev/null; then
  CH=/tmp/site-sgl/nvidia/cu13
  IMG=$(python3 -c 'import nvidia, os; print([p for p in nvidia.__path__ if "/tmp/site" not in p][0])')/cu13
  for f in "$IMG"/include/*; do [ -e "$CH/include/${f##*/}" ] || ln -s "$f" "$CH/include/"; done
  mkdir -p $CH/lib64; for f in "$IMG"/lib/*; do ln -sf "$f" $CH/lib64/; done
  ln -sf libcudart.so.13 $CH/lib64/libcudart.so
  export CUDA_HOME=$CH PATH=$CH/bin:/tmp/site-sgl/bin:$PATH
fi
{ echo "nvcc: $(command -v nvcc) g++: $(command -v g++ c++ | head -1) CUDA_HOME=${CUDA_HOME:-}"
  python3 -c 'import sglang, sgl_kernel, transformers, torch, flashinfer; print("sglang", sglang.__version__, "sgl_kernel", sgl_kernel.__version__, "transformers", transformers.__version__, "torch", torch.__version__, "flashinfer", flashinfer.__version__)'
  python3 -c 'import sglang.srt.entrypoints.http_server, sglang.srt.managers.scheduler, sglang.srt.models.llama; print("imports ok")'
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv; } 2>&1 | tail -8 | tee $RES/versions.txt
(nvidia-smi --query-gpu=timestamp,index,memory.used,utilization.gpu --format=csv -l 5 > $RES/gpu_usage.csv 2>&1 &)
# word-level tokenizer t<id> <-> id over the model's vocabulary: sglang-router sends text prompts only,
# and "t17 t523" must reach the engine as exactly [17, 523] (l4bench's own router sends the ids); written
# into this checkout's model dir too, where l4bench checks it before it lets sglang_router run
python3 scripts/make_tiny_tokenizer.py l4bench/models/llama-3.1-8b || exit 1
rm -rf /tmp/l4model && cp -r l4bench/models/llama-3.1-8b /tmp/l4model
# the GPUs must be free: stop the vLLM servers a gpu_live.sh call left running
for f in /tmp/srv0.pid /tmp/srv1.pid; do [ -f $f ] && kill -- -"$(cat $f)" 2>/dev/null; done
pkill -f vllm.entrypoints.openai.api_server 2>/dev/null && sleep 10
nvidia-smi --query-gpu=index,memory.used --format=csv
echo "install done at ${SECONDS}s"

start() {  # $1 attention backend, rest extra flags
  local be=$1; shift
  for i in 0 1; do
    CUDA_VISIBLE_DEVICES=$i setsid nohup python3 -m sglang.launch_server --model-path /tmp/l4model \
      --host 127.0.0.1 --port ${PORTS[$i]} --load-format dummy --attention-backend $be \
      --sampling-backend pytorch --context-length 32768 --max-running-requests 256 --chunked-prefill-size 8192 \
      --mem-fraction-static 0.85 --enable-metrics --incremental-streaming-output --served-model-name llama-3.1-8b \
      "$@" > /tmp/sgl$i.log 2>&1 < /dev/null &
    echo $! > /tmp/sgl$i.pid
  done
}
source scripts/gpu_common.sh   # wait_ready SECONDS PREFIX, stop_servers PREFIX

start triton
if wait_ready 300 /tmp/sgl; then echo "triton, cuda graphs" > $RES/mode.txt
else
  stop_servers /tmp/sgl; cp /tmp/sgl0.log $RES/sgl0_try1.log; echo "retry: flashinfer, no cuda graph at ${SECONDS}s"
  start flashinfer --disable-cuda-graph
  wait_ready 200 /tmp/sgl || { cp /tmp/sgl*.log $RES/; (cd $RES && tar czf $OUT/res_sglang.tgz .); exit 1; }
  echo "flashinfer, no cuda graph" > $RES/mode.txt
fi
echo "servers ready at ${SECONDS}s"
left=$((BUDGET_S - SECONDS - 20))
timeout $left python3 -m l4bench -m +experiment=live_gpu_sglang engine.launcher=attach \
  "engine.urls=[http://127.0.0.1:${PORTS[0]},http://127.0.0.1:${PORTS[1]}]" engine.python=python3 \
  arrival.rate="$RATE" results_dir=$RES hydra.sweep.dir=$RES/m > $RES/l4bench.log 2>&1
echo "l4bench rc=$? at ${SECONDS}s"
grep -E "completed=|Error|error:|Traceback" $RES/l4bench.log | tail -30
cp /tmp/sgl0.log /tmp/sgl1.log $RES/
(cd $RES && tar czf $OUT/res_sglang.tgz --exclude='*.png' --exclude='*.pdf' --exclude='*.svg' .)
ls -la $OUT
