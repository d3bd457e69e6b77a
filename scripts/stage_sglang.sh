#!/bin/bash
# Stage SGLang 0.5.16 (baselines/sglang-0.5.16-gpu.pins) for the offline GPU host into .gpu-stage-sgl/partNN,
# each <= 15 MiB (they ride beside the ~46 MiB vLLM parts). Wheels bigger than a part (nvcc, nvvm) are
# split into .chunkNN files reassembled by install.sh. On the host, after copying every part into
# /tmp/gpu-stage-sgl (and after /tmp/gpu-stage/install.sh):  source /tmp/gpu-stage-sgl/install.sh
# -> installs into /tmp/site-sgl, exports PYTHONPATH=/tmp/site-sgl:/tmp/site.
set -eu
cd "$(dirname "$0")/.."
OUT=.gpu-stage-sgl
MIB=15
grep -qx '/.gpu-stage-sgl/' .git/info/exclude || echo '/.gpu-stage-sgl/' >> .git/info/exclude
python3 ../shared/gpu/stage_engine.py --pins baselines/sglang-0.5.16-gpu.pins --out $OUT \
  --part-mib $MIB --host-dir /tmp/gpu-stage-sgl
last=$(ls -d $OUT/part* | tail -1)
inst=$last/install.sh
# split oversized wheels into chunks, each in a part of its own
n=$(ls -d $OUT/part* | wc -l)
pre=""
for whl in $(find $OUT -name '*.whl' -size +$((MIB * 1024))k); do
  name=$(basename "$whl")
  split -b $(((MIB - 1) * 1024 * 1024)) -d -a 2 "$whl" "$OUT/$name.chunk"
  rm "$whl"
  for c in "$OUT/$name".chunk*; do
    d=$(printf "$OUT/part%02d" $n); mkdir -p "$d"; mv "$c" "$d/"; n=$((n + 1))
  done
  pre+="[ -f $name ] || cat $name.chunk* > $name"$'\n'
done
# install.sh: /tmp/site-sgl instead of /tmp/site, big wheels reassembled first, shadowing order
python3 - "$inst" "$pre" <<'PY'
import sys, pathlib
p = pathlib.Path(sys.argv[1]); pre = sys.argv[2]
lines = p.read_text().replace("/tmp/site", "/tmp/site-sgl").replace("/tmp/site-sgl-sgl", "/tmp/site-sgl").splitlines()
out = []
for l in lines:
    if l.startswith("export PYTHONPATH="):
        l = "export PYTHONPATH=/tmp/site-sgl:/tmp/site"
    if l.startswith("ls *.whl"):
        out += [x for x in pre.splitlines() if x]
    out.append(l)
out[0] = "# Reassemble SGLang 0.5.16 and install its wheels into /tmp/site-sgl (source after /tmp/gpu-stage/install.sh)."
p.write_text("\n".join(out) + "\n")
PY
# drop parts emptied by the split and renumber partNN contiguously
k=0; for d in $(ls -d $OUT/part*); do
  if [ -z "$(ls -A $d)" ]; then rmdir $d; continue; fi
  t=$(printf "$OUT/p%02d" $k); mv $d $t; k=$((k + 1)); done
for d in $OUT/p[0-9]*; do mv $d $OUT/part${d##*/p}; done
inst=$(ls $OUT/part*/install.sh)
mv "$inst" "$OUT/install.sh.tmp"; mv "$OUT/install.sh.tmp" "$(ls -d $OUT/part* | tail -1)/install.sh"
cat "$(ls -d $OUT/part* | tail -1)/install.sh"
for d in $OUT/part*; do printf "%s %6.1f MiB  %s\n" "$d" "$(du -b $d | awk '{print $1/1048576}')" "$(ls $d | tr '\n' ' ')"; done
du -sh $OUT
