#!/bin/bash
# Issue 15: one harness sweep on the GPU host that outlives the device call which starts it.
# `python -m l4bench +experiment=$EXPERIMENT` (servers started by the harness's own launcher and kept
# up for every scheduler) runs under setsid, so later calls on the same warm machine only wait for it
# and bring back what it has written so far. Each call stays inside the device's 10-minute limit.
#   bash scripts/gpu_sweep.sh start LAST_PART [OVERRIDES...]  # copy the last staged part, install,
#                                                             # start the sweep, then wait as below
#   bash scripts/gpu_sweep.sh wait                            # wait up to WAIT_S, then pack into $OUT
# Earlier calls copy .gpu-stage/part00.. into /tmp/gpu-stage, one part per call, back to back
# (../shared/gpu/README.md); `start` also installs .whl (hydra-core, omegaconf, antlr4: not on the host).
# Each call carries the whole checkout (~35 MiB with results/) beside its part, 64 MiB in all: stage
# with --part-mib 24, or park the results/ folders the sweep does not read for the device calls
# (`bash scripts/gpu_park_results.sh park`, then `restore`). A gap over ~30 s between calls loses the machine.
# Environment: EXPERIMENT (default live_gpu_triton), SWEEP_S (the harness's time limit from its start,
#   default 1380), WAIT_S (one call's wait, default 540), L4BENCH_CODE_COMMIT (the commit of the clean
#   tree that was sent: the copy's .git is stale; recorded in every summary.json's provenance).
#   THEN_EXPERIMENT / THEN_OVERRIDES / THEN_SWEEP_S (optional): a second sweep, started once the
#   first has ended and its servers have left the GPU, written to $RES/runs2 (e.g. another backend:
#   the first sweep's servers are stopped, the second's started with their own backend).
# What comes back: $OUT/res.tgz (summary.json, comparison.csv, config_resolved.yaml, requests.parquet,
# timeline.json, the servers' logs) and $OUT/sweep.log (the harness's output).
set -u
MODE=${1:?start LAST_PART [OVERRIDES...] | wait}
RES=/tmp/l4res
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0
mkdir -p "$RES" "$OUT"

if [ "$MODE" = start ]; then
  PART=${2:?last part folder, e.g. .gpu-stage/part05}; shift 2
  cp "$PART"/* /tmp/gpu-stage/ || exit 1
  source /tmp/gpu-stage/install.sh || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD   # install.sh sets /tmp/site alone; the harness runs from this tree
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv > $RES/nvidia_smi.csv
  cat $RES/nvidia_smi.csv
  # one monitor per machine: a second `start` on the same warm machine would otherwise truncate the
  # file under the first monitor, which keeps writing at its old offset (NUL-filled gaps)
  pkill -f "nvidia-smi --query-gpu=timestamp" 2>/dev/null
  [ -s $RES/gpu_usage.csv ] || echo "timestamp, memory.used [MiB], utilization.gpu [%]" > $RES/gpu_usage.csv
  (setsid nohup nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader -l 5 \
     >> $RES/gpu_usage.csv 2>&1 < /dev/null &)
  echo "install done at ${SECONDS}s; sweep: +experiment=${EXPERIMENT:-live_gpu_triton} $*"
  export RES
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid nohup bash -c '
    timeout "${SWEEP_S:-1380}" python3 -m l4bench +experiment="${EXPERIMENT:-live_gpu_triton}" \
      results_dir=$RES/runs "$@"
    echo "sweep 1 rc=$?"
    [ -n "${THEN_EXPERIMENT:-}" ] || exit 0
    for _ in $(seq 60); do   # the engine children must have freed the GPU before new servers start
      used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
      [ "${used:-0}" -lt 2000 ] && break; sleep 2
    done
    echo "sweep 2 at ${SECONDS}s (GPU memory used ${used} MiB): +experiment=$THEN_EXPERIMENT $THEN_OVERRIDES"
    set -f   # THEN_OVERRIDES holds list overrides like [static_ranges]: split into words, never globbed
    timeout "${THEN_SWEEP_S:-1380}" python3 -m l4bench +experiment="$THEN_EXPERIMENT" \
      results_dir=$RES/runs2 $THEN_OVERRIDES
    echo "sweep 2 rc=$?"' sweep "$@" > $RES/sweep.log 2>&1 < /dev/null &
  echo $! > /tmp/sweep.pid
fi

deadline=$((SECONDS + ${WAIT_S:-540}))
while kill -0 "$(cat /tmp/sweep.pid)" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 5; done
if kill -0 "$(cat /tmp/sweep.pid)" 2>/dev/null; then echo "sweep still running at ${SECONDS}s"; else echo "sweep ended"; fi
grep -E "completed|Error|error|Traceback|summary" $RES/sweep.log | tail -20
(cd $RES && tar czf "$OUT/res.tgz" --exclude='*.png' --exclude='*.pdf' --exclude='*.svg' .)
cp $RES/sweep.log "$OUT/sweep.log"
ls -la "$OUT"
