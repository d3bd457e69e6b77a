#!/usr/bin/env bash
# Issue 16 item 4 in the simulator (conf/experiment/kv_hop_sim.yaml): L4 with recompute hops vs
# KV-transfer hops (the measured NIXL fit) vs no migration on long_outputs, on the shared-H200 pair the
# stalls were measured on, per backend profile and rate. Arms, each a job with experiment.repeats=REPEATS
# (repeat r replays the same requests in every arm: the report checks requests_sha256):
#   recompute   l4, l4_always_hop, l4_no_migration, least_requests   (migration=recompute)
#   kv_transfer l4, l4_always_hop   (migration=kv_transfer: 0.0567 s + 348 us/token, the measured NIXL fit)
#   kv_cuda_ipc l4, l4_always_hop   (migration=kv_transfer_cuda_ipc: 0.0683 s + 16 us/token, the NIXL fit
#               with UCX's CUDA IPC GET on: results/kv_hop/h200_shared_nixl_cudaipc)
#   kv_bound    l4, l4_always_hop   (migration=kv_transfer with the measured fixed cost and no per-token
#               cost: an upper bound on what any faster transport could give, not a measurement)
# l4_always_hop hops at every crossed bound (the paper's rule), so its arms differ only in the hop's price.
#   OUT_DIR=results/kv_hop/sim_h200_shared REPEATS=3 bash scripts/kv_hop_sim.sh
# ARMS (default "recompute kv_transfer kv_cuda_ipc kv_bound") runs a subset, e.g. ARMS=kv_cuda_ipc.
# Results: OUT_DIR/<backend>/<arm>/r<rate>/summary.json (+ run.log); the table: python -m l4bench.report.
set -u
cd "$(dirname "$0")/.."
OUT_DIR=${OUT_DIR:-results/kv_hop/sim_h200_shared}
REPEATS=${REPEATS:-3}
PY=${PY:-python3}
# backend:rates, the higher rate near least_requests' saturation (one-repeat sweeps: README of OUT_DIR)
PLAN=${PLAN:-"FLASH_ATTN:0.4,0.8 TRITON_ATTN:0.2,0.3"}
failed=()
for item in $PLAN; do
  backend=${item%%:*}
  for rate in $(echo "${item#*:}" | tr , ' '); do
    for arm in ${ARMS:-recompute kv_transfer kv_cuda_ipc kv_bound}; do
      case $arm in
        recompute) args=(migration=recompute "experiment.schedulers=[l4,l4_always_hop,l4_no_migration,least_requests]") ;;
        kv_transfer) args=(migration=kv_transfer "experiment.schedulers=[l4,l4_always_hop]") ;;
        kv_cuda_ipc) args=(migration=kv_transfer_cuda_ipc "experiment.schedulers=[l4,l4_always_hop]") ;;
        kv_bound) args=(migration=kv_transfer engine.migration.bandwidth_bytes_per_s=1e18 "experiment.schedulers=[l4,l4_always_hop]") ;;
        *) echo "error: unknown arm $arm (recompute, kv_transfer, kv_cuda_ipc, kv_bound)" >&2; exit 2 ;;
      esac
      dir=$OUT_DIR/$backend/$arm/r$rate
      mkdir -p "$dir"
      echo "== $backend $arm rate $rate -> $dir"
      if nice "$PY" -m l4bench +experiment=kv_hop_sim "${args[@]}" "perf.profile=h200/llama-3.1-8b/$backend" \
          "arrival.rate=$rate" "experiment.repeats=$REPEATS" "results_dir=$dir/.runs" > "$dir/run.log" 2>&1; then
        run=$(ls -td "$dir"/.runs/kv_hop_sim/*/ | head -1)
        cp "$run/summary.json" "$run/comparison.csv" "$run/config_resolved.yaml" "$dir/"
      else
        failed+=("$dir")
      fi
    done
  done
done
[ ${#failed[@]} -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
