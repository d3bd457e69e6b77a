#!/usr/bin/env bash
# static_ranges' boundary chosen by a simulator sweep, as an operator would (issue 15): one run of
# static_ranges per candidate boundary at one load (one repeat, seed 0: every boundary sees the same
# requests), then the table and the boundary with the lowest mean E2E (l4bench.report.static_sweep).
#
#   OUT_DIR=results/l4_eval/h200_TRITON_ATTN/static_sweep/bimodal_r28 \
#     bash scripts/static_sweep.sh l4_h200_bimodal arrival.rate=28 perf.profile=h200/llama-3.1-8b/TRITON_ATTN
#
# Args: EXPERIMENT, then any overrides (the load first). BOUNDARIES (space-separated token counts,
# default "2048 4096 8192 16384") each give a two-range split [0, b), [b, max). Per run:
# OUT_DIR/b<boundary>/ (summary.json, comparison.csv, config_resolved.yaml); OUT_DIR/sweep.csv, sweep.md.
set -eu
cd "$(dirname "$0")/.."
EXP=${1:?usage: static_sweep.sh EXPERIMENT [OVERRIDE ...]}
shift
OUT_DIR=${OUT_DIR:?set OUT_DIR}
BOUNDARIES=${BOUNDARIES:-"2048 4096 8192 16384"}
PY=${PY:-python3}
mkdir -p "$OUT_DIR"
for b in $BOUNDARIES; do
  dir="$OUT_DIR/b$b"
  mkdir -p "$dir"
  "$PY" -m l4bench "+experiment=$EXP" "experiment.schedulers=[static_ranges]" experiment.repeats=1 \
    "++experiment.scheduler_overrides.static_ranges.boundaries=[$b]" progress=false "hydra.run.dir=$dir" "$@" \
    > "$dir/run.log" 2>&1 || { echo "FAILED b$b (see $dir/run.log)"; exit 1; }
  echo "done   b$b"
done
"$PY" -m l4bench.report.static_sweep "$OUT_DIR" --out "$OUT_DIR/sweep" | tee "$OUT_DIR/sweep.md"
