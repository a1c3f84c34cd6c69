"""MoleculeACE benchmark (thin script over :mod:`chmr_sklearn.benchmark._moleculeace`).

Per MoleculeACE set (30, each on its own train/test split): test RMSE overall and on the
activity-cliff molecules for RF and SVR (Tanimoto kernel) on the 1191 fingerprint bits,
``CHMRRegressor()`` at default settings and chemprop (50 epochs) on the 5 smallest sets.
Writes ``benchmarks/results/moleculeace.md`` (+ ``.json``) after every set.

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 5 python benchmarks/moleculeace.py      # the full run
    CHMR_DATA_HOME=../shared/data python benchmarks/moleculeace.py --quick        # smoke run (2 sets, 1 seed)
    python benchmarks/moleculeace.py --merge results/moleculeace.json part.json   # add a later run's models
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch

from chmr_sklearn.benchmark._moleculeace import ACE_MODELS, merge_ace_reports, run_moleculeace, write_ace_report
from chmr_sklearn.datasets import MOLECULEACE_DATASETS

RESULTS = Path(__file__).resolve().parent / "results" / "moleculeace.md"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", choices=MOLECULEACE_DATASETS, help="default: all 30 (quick: 2)")
    ap.add_argument("--seeds", nargs="+", type=int, default=None, help="default 0 1 2 (quick: 0)")
    ap.add_argument("--quick", action="store_true", help="2 sets, 1 seed, tiny budgets (a smoke run)")
    ap.add_argument("--models", nargs="+", default=list(ACE_MODELS), choices=list(ACE_MODELS))
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help=f"default {RESULTS} (quick: $TMPDIR/moleculeace_quick.md)")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="PART.json",
                    help="only write --out from these runs' JSON files (other models of the same sets, run apart)")
    args = ap.parse_args(argv)
    if args.merge:
        return write_ace_report(merge_ace_reports([json.loads(p.read_text()) for p in args.merge]), args.out or RESULTS)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    out = args.out or (Path(tempfile.gettempdir()) / "moleculeace_quick.md" if args.quick else RESULTS)
    torch.set_num_threads(1)  # one torch thread: faster per epoch on a loaded 2-core machine
    start = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - start:7.1f}s {msg}", flush=True)

    run_moleculeace(args.sets, seeds=seeds, quick=args.quick, models=args.models, n_jobs=args.n_jobs, out=out,
                    log=log, command="python benchmarks/moleculeace.py " + " ".join(argv or sys.argv[1:]))
    log(f"wrote {out} (+ .json)")


if __name__ == "__main__":
    main()
