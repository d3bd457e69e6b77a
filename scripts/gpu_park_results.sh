#!/bin/bash
# Keep a device call's transfer under its 64 MiB (the checkout + the staged part it carries): move the
# committed results/ folders a GPU sweep does not read (all but results/profiles, which the fitted
# cost models load) out of the checkout for the device calls, and back afterwards.
#   bash scripts/gpu_park_results.sh park      # before the first device call
#   bash scripts/gpu_park_results.sh restore   # after the last one (git status is clean again)
# PARK_DIR (default /tmp/l4bench-parked-results) holds them meanwhile. A sweep started while parked
# records the commit given in L4BENCH_CODE_COMMIT (scripts/gpu_sweep.sh): the code is unchanged.
set -eu
cd "$(dirname "$0")/.."
PARK_DIR=${PARK_DIR:-/tmp/l4bench-parked-results}
case "${1:-}" in
  park)
    [ -e "$PARK_DIR" ] && { echo "error: $PARK_DIR exists: restore (or remove) it first" >&2; exit 2; }
    mkdir -p "$PARK_DIR"
    for d in results/*; do [ "$d" = results/profiles ] || mv "$d" "$PARK_DIR/"; done
    echo "parked $(ls "$PARK_DIR" | wc -l) entries of results/ in $PARK_DIR; checkout now $(git ls-files -z | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1) KiB"
    ;;
  restore)
    [ -d "$PARK_DIR" ] || { echo "error: nothing parked in $PARK_DIR" >&2; exit 2; }
    for d in "$PARK_DIR"/*; do
      [ -e "results/$(basename "$d")" ] && { echo "error: results/$(basename "$d") exists; not overwriting" >&2; exit 2; }
    done
    mv "$PARK_DIR"/* results/ && rmdir "$PARK_DIR"
    echo "restored results/"; git status --short results | head -5
    ;;
  *) echo "usage: bash scripts/gpu_park_results.sh park|restore" >&2; exit 2 ;;
esac
