#!/usr/bin/env bash
# chemprop at its own defaults (50 epochs, no early stop) on the downstream benchmark's three
# largest sets, for one lent GPU session (one H200, 16 CPU cores, <= 10 minutes per command).
#
# On 2 CPU cores chemprop needs ~3 min per seed per 1,000 training molecules: HIV (32,896
# training molecules) would take ~5 h for three seeds, ToxCast and its 60/15/25 variant ~1 h
# each. Here each (dataset, seed) is its own process (`benchmarks/downstream.py --models
# chemprop --seeds S --chemprop-accelerator gpu`): the GPU is launch-bound on chemprop's
# batches of 64, so nine processes share it. Back here, pool the parts (merge_runs pools one
# model's seeds run in different processes):
#
#   mkdir -p runs/gpu_cp && tar -xzf results.tar.gz -C runs/gpu_cp
#   python benchmarks/downstream.py --merge runs/gpu_cp/res/*.json \
#       --datasets toxcast hiv toxcast_6015 --out benchmarks/results/downstream_chemprop_gpu.md
#
# The splits are the benchmark's own: `benchmarks/downstream.py` loads and splits each dataset
# there as here and the JSON keeps each split's digest (the same with RDKit 2026.03.6, which
# chemprop 2.3.1's cuik_molmaker pins, as with 2026.09.1: checked for these three sets).
#
# Needs, in the repository root (both in .git/info/exclude, both named in the device call's carry):
#   .whl/      for the device's Python 3.12, what it lacks (~42 MB), made here with
#                d="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp -d .whl"
#                pip download $d --platform manylinux_2_28_x86_64 chemprop==2.3.1 astartes==1.3.3 \
#                    configargparse descriptastorus pandas_flavor myerson multiprocess dill \
#                    rdkit==2026.3.6 skorch
#                pip download $d --platform manylinux_2_24_x86_64 cuik_molmaker_pin==2026.3.6
#              (one rdkit only: remove any other rdkit wheel), and in .whl/lib the X11 libraries
#              cuik_molmaker links and the device lacks (copied from this machine's
#              /lib/x86_64-linux-gnu: libXrender.so.1 libX11.so.6 libXext.so.6 libxcb.so.1
#              libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0 libexpat.so.1);
#   .devdata/  the moleculenet/ files of ../shared/data.
# Writes $OUT/results.tar.gz.
#
# Measured on 2026-12-04 (nine processes on one H200): ToxCast and its 60/15/25 variant took
# ~4 min per seed; HIV reached epoch 33 of 50 in ~7.5 min with the others beside it for the first
# 4 min, so its three seeds need a call of their own (~10 min: give it DEADLINE_S=570 and
# SETS=hiv, or fewer seeds per call).
#
# Usage (device tool): bash scripts/gpu_chemprop.sh
# A dry run on a CPU machine (chemprop installed, tiny budget):
#   SKIP_WHEELS=1 ACCEL=cpu FLAGS=--quick SETS=toxcast_6015 SEEDS="0 1" bash scripts/gpu_chemprop.sh
set -u
T0=$(date +%s)
OUT=${OUT:-runs/gpu_chemprop}
W=${WORK:-/tmp/cpwork}
DEADLINE_S=${DEADLINE_S:-540}  # every run is stopped this many seconds after the start
ACCEL=${ACCEL:-gpu}
SETS=${SETS:-hiv toxcast toxcast_6015}  # the largest first
SEEDS=${SEEDS:-0 1 2}
FLAGS=${FLAGS:-}
PY=${PY:-python3}
mkdir -p "$OUT" "$W/res" "$W/logs" "$W/chemprop"
elapsed() { echo $(( $(date +%s) - T0 )); }
gpu() { command -v nvidia-smi >/dev/null && nvidia-smi "$@"; }

if [ -z "${SKIP_WHEELS:-}" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || { echo "wheel install failed"; exit 1; }
    # cuik_molmaker (imported by chemprop whatever the featurizer) links X11 libraries the device lacks
    export PYTHONPATH=/tmp/site CHMR_CHEMPROP=/tmp/site/bin/chemprop LD_LIBRARY_PATH=$PWD/.whl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# TMPDIR: run_downstream's chemprop work folders land in $W/chemprop, whose logs come back.
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD CHMR_DATA_HOME=${CHMR_DATA_HOME:-$PWD/.devdata} \
    PYTHONUNBUFFERED=1 TMPDIR="$W/chemprop"
gpu -L
"$PY" -c "import torch, rdkit, sklearn, numpy, lightning, chemprop; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'rdkit', rdkit.__version__, 'sklearn', sklearn.__version__, 'numpy', numpy.__version__, 'lightning', lightning.__version__, 'chemprop', chemprop.__version__)" \
    || { echo "imports failed"; exit 2; }

for d in $SETS; do
    for s in $SEEDS; do
        timeout --signal=INT $(( DEADLINE_S - $(elapsed) )) "$PY" benchmarks/downstream.py --models chemprop \
            --datasets "$d" --seeds "$s" --chemprop-accelerator "$ACCEL" --n-jobs 1 $FLAGS \
            --out "$W/res/${d}_s$s.md" >"$W/logs/${d}_s$s.log" 2>&1 &
    done
done
while [ "$(jobs -r | wc -l)" -gt 0 ]; do
    sleep 20
    echo "[$(elapsed) s] running: $(jobs -r | wc -l); load $(cut -d' ' -f1-3 /proc/loadavg); gpu: $(gpu --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
    for f in $(find "$W/chemprop" -name metrics.csv); do
        echo "    $(echo "$f" | sed -E 's#.*/([^/]+_seed[0-9]+)/model/.*#\1#'): $(tail -1 "$f" | cut -d, -f1-3)"
    done | sort
done
wait
echo "[$(elapsed) s] all runs over"
for f in "$W"/logs/*.log; do echo "== $f"; grep -E "chemprop seed|failed|Error|rror:" "$f" | tail -3; done

# Reports, logs and chemprop's own logs and per-epoch metrics (no models, no data copies).
(cd "$W" && tar -cz res logs $(find chemprop -name chemprop.log -o -name metrics.csv)) >"$OUT/results.tar.gz"
ls -la "$OUT"
echo "[$(elapsed) s] done"
