"""Downstream benchmark (thin script over :func:`chmr_sklearn.benchmark.run_downstream`).

Writes ``benchmarks/results/downstream.md`` (+ ``.json`` raw numbers, ``.png`` bar chart) after
every finished dataset. chemprop is taken from ``$CHMR_CHEMPROP`` or ``PATH``.

Usage::

    CHMR_DATA_HOME=../shared/data CHMR_CHEMPROP=/work/venvs/chemprop/bin/chemprop \\
        nice -n 5 python benchmarks/downstream.py            # the full run (all datasets)
    python benchmarks/downstream.py --datasets bace esol --quick
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch

from chmr_sklearn.benchmark import (
    DATASETS,
    MODELS,
    VARIANTS,
    merge_runs,
    run_downstream,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results" / "downstream.md"
# Small sets first so results accumulate early; the big ones (and the ToxCast variant) last.
ORDER = ["bace", "bbbp", "clintox", "sider", "chembl2k", "esol", "freesolv", "broad6k",
         "toxcast", "hiv", "lipophilicity", "toxcast_6015"]


def _params(pairs: list[str]) -> dict:
    """``["descriptors=True", "n_heads=3"]`` -> ``{"descriptors": True, "n_heads": 3}`` (values as Python literals)."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--defaults-param: expected NAME=VALUE, got {pair!r}")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value  # a bare string such as rf_offsets=scaffold
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=ORDER, choices=sorted(DATASETS) + sorted(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--quick", action="store_true", help="tiny grids and epoch budgets (a smoke run)")
    ap.add_argument("--no-chemprop", action="store_true")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                    help="columns to run (e.g. split one dataset's models over processes, then --merge)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--full-grids", action="store_true",
                    help="the full grids on every dataset, without the CPU-budget cuts of the large ones")
    ap.add_argument("--chemprop-accelerator", choices=["cpu", "gpu"], default="cpu",
                    help="where chemprop trains (scripts/gpu_chemprop.sh runs it on a GPU)")
    ap.add_argument("--defaults-param", nargs="+", default=[], metavar="NAME=VALUE",
                    help="replace defaults of the 'chmr_default' column (a candidate default, e.g. descriptors=True)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--merge", nargs="+", type=Path, metavar="PART.json",
                    help="only write --out from the results of these runs' JSON files (runs split over processes)")
    ap.add_argument("--notes", type=Path, help="with --merge: a paragraph to put under 'where we win and lose'")
    args = ap.parse_args(argv)
    if args.merge:
        notes = args.notes.read_text().strip() if args.notes else ""
        return write_report(merge_runs([json.loads(p.read_text()) for p in args.merge], args.datasets, notes), args.out)
    # One torch thread: on a loaded 2-core machine it was 2-4x faster per epoch than two.
    torch.set_num_threads(1)
    start = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - start:7.1f}s {msg}", flush=True)

    run_downstream(args.datasets, seeds=args.seeds, quick=args.quick, n_jobs=args.n_jobs, out=args.out, log=log,
                   chemprop=not args.no_chemprop, models=args.models, chemprop_accelerator=args.chemprop_accelerator,
                   full=args.full_grids, defaults_params=_params(args.defaults_param))
    log(f"wrote {args.out} (+ .json, .png)")


if __name__ == "__main__":
    main()
