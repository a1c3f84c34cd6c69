#!/usr/bin/env bash
# Pretraining runs for one lent GPU session (one H200, 16 CPU cores, ~9 minutes of command time).
#
# Runs side by side, each its own process (the GPU is launch-bound on these small batches, so
# several processes share it well):
#   * full8, full16: scripts/pretrain_default.py, recipe "gentle" (the shipped default's), on
#     every corpus molecule (--limit 0, ~84k) for 8 and 16 epochs: default-model candidates,
#     compared with the shipped one on validation splits afterwards (benchmarks/model_selection.py);
#   * cell-awareness, recipes "gentle" and "new", 50 epochs, one process per seed (0, 1, 2):
#     benchmarks/cell_awareness.py --device cuda --seeds k; pooled afterwards with --merge.
# A CUDA smoke run goes first, so a device-specific failure costs seconds, not the session.
# Unfinished runs are stopped with SIGINT at the deadline: their per-epoch checkpoints resume.
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

left=$(( DEADLINE_S - $(elapsed) ))
pids=()
for e in $FULL_EPOCHS; do
    timeout --signal=INT "$left" python3 scripts/pretrain_default.py --recipe gentle --limit "$LIMIT" --epochs "$e" \
        --device "$DEVICE" --n-jobs 8 --out "$W/full$e" --checkpoint-dir "$W/ck$e" >"$W/logs/full$e.log" 2>&1 &
    pids+=($!)
done
for recipe in gentle new; do
    for seed in 0 1 2; do
        OMP_NUM_THREADS=2 timeout --signal=INT "$left" python3 benchmarks/cell_awareness.py --recipe "$recipe" \
            --epochs "$CA_EPOCHS" $CA_FLAGS --seeds "$seed" --device "$DEVICE" --n-jobs 3 --out "$W/res/ca_${recipe}_s$seed" \
            --work-dir "$W/ca" >"$W/logs/ca_${recipe}_s$seed.log" 2>&1 &
        pids+=($!)
    done
done
while [ "$(jobs -r | wc -l)" -gt 0 ]; do
    sleep 30
    echo "[$(elapsed) s] running: $(jobs -r | wc -l); gpu: $(gpu --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
done
wait
echo "[$(elapsed) s] parallel phase over"
for f in "$W"/logs/*.log; do echo "== $f"; tr '\r' '\n' <"$f" | grep -v '^\s*$' | tail -4; done

tar -czf "$OUT/results.tar.gz" -C "$W" res logs $(cd "$W" && ls -d full*/ 2>/dev/null)
for e in $FULL_EPOCHS; do  # an unfinished candidate: bring its checkpoint back to resume elsewhere
    if [ ! -f "$W/full$e/default.pt" ] && [ -f "$W/ck$e/last.pt" ]; then
        split -b 15m -d "$W/ck$e/last.pt" "$OUT/ck${e}_last.pt.part"
    fi
done
ls -la "$OUT"
echo "[$(elapsed) s] done"
