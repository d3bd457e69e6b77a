#!/bin/bash
# Stage NIXL for the offline GPU host (issue 16), beside the vLLM parts of ../shared/gpu/stage_engine.py:
# nixl 1.5.1 (meta package) + nixl-cu13 1.5.1 (~56 MiB, split in two chunks so each transfer stays
# under 64 MiB with the checkout). Where pip works, in the repo root:
#   bash scripts/stage_nixl.sh            -> .gpu-stage-nixl/p0, p1 (ignored by git)
# Then two device calls: `mkdir -p /tmp/nixl-stage && cp .gpu-stage-nixl/pN/* /tmp/nixl-stage/`
# carrying .gpu-stage-nixl/pN; scripts/gpu_nixl.sh joins, checks the sha256 and installs them.
set -eu
OUT=${OUT:-.gpu-stage-nixl}
tmp=$(mktemp -d)
python3 -m pip download --no-deps -q -d "$tmp" nixl==1.5.1 nixl-cu13==1.5.1 \
  --python-version 3.12 --only-binary=:all: --platform manylinux_2_28_x86_64
w=$(ls "$tmp"/nixl_cu13-1.5.1-*.whl)
rm -rf "$OUT"; mkdir -p "$OUT/p0" "$OUT/p1"
split -b 30000000 -d -a 2 "$w" "$tmp/chunk"
mv "$tmp/chunk00" "$OUT/p0/nixl_cu13.whl.chunk00"; mv "$tmp/chunk01" "$OUT/p1/nixl_cu13.whl.chunk01"
cp "$tmp"/nixl-1.5.1-py3-none-any.whl "$OUT/p0/"
sha256sum "$w" | cut -d' ' -f1 > "$OUT/p1/nixl_cu13.sha256"
grep -qx '/.gpu-stage-nixl/' .git/info/exclude 2>/dev/null || echo '/.gpu-stage-nixl/' >> .git/info/exclude
rm -rf "$tmp"; du -sh "$OUT"/*
