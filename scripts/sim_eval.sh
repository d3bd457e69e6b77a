#!/usr/bin/env bash
# The simulator evaluation of L4 against every baseline (issue #12 item 6), as independent jobs run
# JOBS at a time: one job = one (workload, load, scheduler) with experiment.repeats=REPEATS, so every
# scheduler of a load sees the same requests in repeat r (the arrival seed depends on seed and r only)
# and the report pairs them across jobs. Results: OUT_DIR/<workload>/<load>/<scheduler>/summary.json;
# merge with `python scripts/l4_eval_report.py OUT_DIR/<workload>/*/* ...`.
#
#   OUT_DIR=results/l4_eval/r4 JOBS=14 REPEATS=5 bash scripts/sim_eval.sh [mooncake|bimodal|all]
#
# Other experiments and overrides (issue 15, per H200 attention backend):
#   MOONCAKE_EXP=l4_h200_mooncake BIMODAL_EXP=l4_h200_bimodal \
#   EXTRA="perf.profile=h200/llama-3.1-8b/TRITON_ATTN" MOONCAKE_EXTRA="++experiment.scheduler_overrides.static_ranges.boundaries=[4096]" \
#   OUT_DIR=results/l4_eval/h200_TRITON_ATTN JOBS=1 REPEATS=3 bash scripts/sim_eval.sh all
# EXTRA goes to every job, MOONCAKE_EXTRA / BIMODAL_EXTRA to that workload's (space-separated overrides).
#
# Each job's log is OUT_DIR/.../run.log; OUT_DIR/jobs.txt lists every job (done / FAILED); a job that
# fails is listed at the end and the others go on.
set -u
cd "$(dirname "$0")/.."
WHICH=${1:-all}
OUT_DIR=${OUT_DIR:-results/l4_eval/r4}
JOBS=${JOBS:-$(nproc)}
REPEATS=${REPEATS:-5}
PY=${PY:-python3}
SCHEDULERS=${SCHEDULERS:-"l4 round_robin random least_requests least_tokens power_of_two llumnix sglang_bucket static_ranges"}
MOONCAKE_LOADS=${MOONCAKE_LOADS:-"1 2 3 4 5 6"}
BIMODAL_LOADS=${BIMODAL_LOADS:-"16 32 48 64"}
MOONCAKE_EXP=${MOONCAKE_EXP:-l4_mooncake}
BIMODAL_EXP=${BIMODAL_EXP:-l4_bimodal}
EXTRA=${EXTRA:-}
MOONCAKE_EXTRA=${MOONCAKE_EXTRA:-}
BIMODAL_EXTRA=${BIMODAL_EXTRA:-}

mkdir -p "$OUT_DIR"
jobs_file=$(mktemp)
for s in $SCHEDULERS; do   # schedulers outermost: the slowest loads of every scheduler start early
  if [ "$WHICH" = all ] || [ "$WHICH" = mooncake ]; then
    for x in $MOONCAKE_LOADS; do echo "$MOONCAKE_EXP arrival.speedup=$x mooncake/x$x/$s $s $EXTRA $MOONCAKE_EXTRA"; done
  fi
  if [ "$WHICH" = all ] || [ "$WHICH" = bimodal ]; then
    for r in $BIMODAL_LOADS; do echo "$BIMODAL_EXP arrival.rate=$r bimodal/r$r/$s $s $EXTRA $BIMODAL_EXTRA"; done
  fi
done | sed 's/[[:space:]]*$//' > "$jobs_file"  # xargs -L joins a line ending in a blank to the next
echo "sim_eval: $(wc -l < "$jobs_file") jobs, $JOBS at a time, repeats=$REPEATS -> $OUT_DIR"

run_job() {  # EXPERIMENT LOAD_OVERRIDE SUBDIR SCHEDULER [OVERRIDE ...]
  local dir="$OUT_DIR/$3"
  mkdir -p "$dir"
  if "$PY" -m l4bench "+experiment=$1" "$2" "experiment.schedulers=[$4]" "experiment.repeats=$REPEATS" \
      progress=false "hydra.run.dir=$dir" "${@:5}" > "$dir/run.log" 2>&1; then
    echo "done   $3"
  else
    echo "FAILED $3 (see $dir/run.log)"
  fi
}
export -f run_job
export OUT_DIR REPEATS PY
xargs -P "$JOBS" -L 1 bash -c 'run_job "$@"' _ < "$jobs_file" | tee "$OUT_DIR/jobs.txt"
rm -f "$jobs_file"
echo "sim_eval: $(grep -c '^done' "$OUT_DIR/jobs.txt") done, $(grep -c '^FAILED' "$OUT_DIR/jobs.txt") failed"
