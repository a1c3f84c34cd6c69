#!/usr/bin/env bash
# Pretraining runs for one lent GPU session (one H200, 16 CPU cores, ~9 minutes of command time).
#
#   1. a CUDA smoke run (quick cell-awareness), so a device-specific failure costs seconds;
#   2. the full corpus (~84k molecules, recipe "gentle") built ONCE with every core and cached
#      (scripts/pretrain_default.py --build-only --corpus-cache);
#   3. side by side, one process each (the GPU is launch-bound on these small batches):
#      * full candidates for the shipped default, FULL_EPOCHS (8 and 16) epochs, loading that
#        cache; compared with the shipped model on validation splits afterwards
#        (benchmarks/model_selection.py);
#      * cell-awareness, recipe "gentle", CA_EPOCHS (50) epochs, one process per seed (0, 1, 2),
#        pooled afterwards with benchmarks/cell_awareness.py --merge.
# Unfinished runs are stopped with SIGINT at the deadline: their per-epoch checkpoints resume.
# Back here: cat results.tar.gz.part* | tar -xz   (and cat ck*_last.pt.part* > last.pt)
#
# Measured on 2026-12-04 (first session, which built the corpus in each trainer and ran the
# "new" recipe too): featurizing the 83,909 molecules took 112 s per process with two such
# builds and six cell-awareness runs sharing the 16 cores, and the profile propagation's
# all-pairs Tanimoto kNN (NumPy, CPU) had not finished 4 minutes later, so no full candidate
# trained; cell-awareness pretraining ran at ~5 s per epoch (7,022 molecules) with eight
# processes sharing the GPU, and 50 epochs took ~270 s. Hence the single build here. Size the
# epochs from the build's time in the log before raising them.
#
# Needs, in the repository root: .whl/ (rdkit and skorch wheels for the device's Python) and
# .devdata/ (the cell/, infoalign/ and moleculenet/ files of ../shared/data). Writes $OUT.
#
# Usage (device tool): bash scripts/gpu_session.sh
# A dry run of the flow on a CPU machine (tiny sizes, no wheels):
#   SKIP_WHEELS=1 DEVICE=cpu LIMIT=1500 FULL_EPOCHS="1 2" CA_EPOCHS=1 CA_FLAGS=--quick bash scripts/gpu_session.sh
set -u
T0=$(date +%s)
OUT=${OUT:-runs/gpu}
W=${WORK:-/tmp/gpuwork}
DEADLINE_S=${DEADLINE_S:-480}  # end of the parallel phase, seconds after the start
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-0}
FULL_EPOCHS=${FULL_EPOCHS:-8 16}
CA_EPOCHS=${CA_EPOCHS:-50}
CA_FLAGS=${CA_FLAGS:-}
mkdir -p "$OUT" "$W/logs" "$W/res"
elapsed() { echo $(( $(date +%s) - T0 )); }
gpu() { command -v nvidia-smi >/dev/null && nvidia-smi "$@"; }

if [ -z "${SKIP_WHEELS:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || { echo "wheel install failed"; exit 1; }
fi
export PYTHONPATH=/tmp/site:$PWD CHMR_DATA_HOME=$PWD/.devdata CUBLAS_WORKSPACE_CONFIG=:4096:8 PYTHONUNBUFFERED=1
gpu -L
python3 -c "import torch, rdkit, sklearn, numpy, pandas; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'rdkit', rdkit.__version__, 'sklearn', sklearn.__version__, 'numpy', numpy.__version__)"

echo "[$(elapsed) s] smoke: quick cell-awareness on cuda"
if ! OMP_NUM_THREADS=4 timeout 120 python3 benchmarks/cell_awareness.py --quick --seeds 0 --device "$DEVICE" \
        --n-jobs 8 --out "$W/res/smoke" --work-dir "$W/smoke" >"$W/logs/smoke.log" 2>&1; then
    tail -40 "$W/logs/smoke.log"; cp "$W/logs/smoke.log" "$OUT/"; echo "SMOKE FAILED"; exit 2
fi
tail -3 "$W/logs/smoke.log"
echo "[$(elapsed) s] smoke ok"

echo "[$(elapsed) s] building the full corpus once"
timeout --signal=INT $(( DEADLINE_S - $(elapsed) - 120 )) python3 scripts/pretrain_default.py --recipe gentle \
    --limit "$LIMIT" --build-only --corpus-cache "$W/corpus.pkl" >"$W/logs/build.log" 2>&1 \
    || echo "corpus build failed or was stopped: see logs/build.log"
echo "[$(elapsed) s] corpus built"

left=$(( DEADLINE_S - $(elapsed) ))
if [ -f "$W/corpus.pkl" ]; then
    for e in $FULL_EPOCHS; do
        timeout --signal=INT "$left" python3 scripts/pretrain_default.py --recipe gentle --limit "$LIMIT" \
            --epochs "$e" --corpus-cache "$W/corpus.pkl" --device "$DEVICE" --out "$W/full$e" \
            --checkpoint-dir "$W/ck$e" >"$W/logs/full$e.log" 2>&1 &
    done
fi
for seed in 0 1 2; do
    OMP_NUM_THREADS=2 timeout --signal=INT "$left" python3 benchmarks/cell_awareness.py --recipe gentle \
        --epochs "$CA_EPOCHS" $CA_FLAGS --seeds "$seed" --device "$DEVICE" --n-jobs 4 --out "$W/res/ca_gentle_s$seed" \
        --work-dir "$W/ca" >"$W/logs/ca_gentle_s$seed.log" 2>&1 &
done
while [ "$(jobs -r | wc -l)" -gt 0 ]; do
    sleep 30
    echo "[$(elapsed) s] running: $(jobs -r | wc -l); gpu: $(gpu --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
done
wait
echo "[$(elapsed) s] parallel phase over"
for f in "$W"/logs/*.log; do echo "== $f"; tr '\r' '\n' <"$f" | grep -v '^\s*$' | tail -4; done

# Logs, reports, finished candidates and the cell-awareness models (so that an evaluation the
# deadline cut can be rerun elsewhere), in <= 15 MB parts (the device tool returns files <= 16 MiB).
(cd "$W" && tar -cz res logs $(ls -d full*/ 2>/dev/null) $(find ca -name model.pt 2>/dev/null)) \
    | split -b 15m -d - "$OUT/results.tar.gz.part"
for e in $FULL_EPOCHS; do  # the first unfinished candidate: its checkpoint, to resume elsewhere
    if [ ! -f "$W/full$e/default.pt" ] && [ -f "$W/ck$e/last.pt" ]; then
        split -b 15m -d "$W/ck$e/last.pt" "$OUT/ck${e}_last.pt.part"
        break
    fi
done
ls -la "$OUT"
echo "[$(elapsed) s] done"
