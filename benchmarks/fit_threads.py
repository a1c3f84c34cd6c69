"""Fit time of the default heads with their residual forests grown on one thread vs on the cores.

Not a test: writes ``benchmarks/results/fit_threads.md`` (+ ``.json``). For each dataset, in one
run on the shipped model's embedding (computed once, not timed here), on the benchmark's
training rows:

* ``CHMRClassifier()`` / ``CHMRRegressor()`` at default settings (two heads, ``rf_residual="auto"``,
  500-tree forests on the 1191 fingerprint bits) with ``n_jobs=1`` and with ``n_jobs=None`` (the
  default: the forests' trees grow on torch's cores);
* the reference: RF on the same bits, one 500-tree forest per task (the benchmarks' baseline),
  with ``n_jobs=1`` and ``n_jobs=2``.

It prints seconds and ratios, and the largest difference between the two CHMR fits'
test predictions (0: the same model, as it must be).

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/fit_threads.py                 # bace, sider
    CHMR_DATA_HOME=../shared/data python benchmarks/fit_threads.py --datasets esol --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402

from chmr_sklearn.benchmark import load_split  # noqa: E402
from chmr_sklearn.benchmark._data import N_FP, embed  # noqa: E402
from chmr_sklearn.benchmark._machine import load_average, machine_info  # noqa: E402
from chmr_sklearn.benchmark._models import (  # noqa: E402
    _FPResidualClassifier,
    _FPResidualRegressor,
    _predict,
    _targets,
    fit_rf,
)

RESULTS = Path(__file__).resolve().parent / "results" / "fit_threads.md"


def _fit_chmr(data, E: np.ndarray, n_jobs: int | None, seed: int) -> tuple[float, np.ndarray]:
    """Seconds of one default fit on the training rows, and its test predictions."""
    tr, _, te = data.split
    cls = _FPResidualClassifier if data.kind == "classification" else _FPResidualRegressor
    est = cls("passthrough", n_jobs=n_jobs, random_state=seed)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est.fit(E[tr], _targets(data.Y[tr]))
    seconds = time.perf_counter() - t
    return seconds, _predict(est, E[te], data)


def measure(name: str, seed: int, log) -> dict:
    data = load_split(name)
    E, _ = embed(data, n_jobs=2, precision="float32")
    row = {"dataset": name, "molecules": len(data.smiles), "train": len(data.split[0]), "tasks": data.Y.shape[1]}
    preds = {}
    for n_jobs, key in ((1, "chmr_1"), (None, "chmr_default")):
        row[key], preds[key] = _fit_chmr(data, E, n_jobs, seed)
        log(f"{name} CHMR n_jobs={n_jobs}: {row[key]:.1f} s")
    row["max_abs_diff"] = float(np.abs(preds["chmr_1"] - preds["chmr_default"]).max())
    for n_jobs in (1, 2):
        r = fit_rf(data, E[:, :N_FP], {"n_estimators": 500, "min_samples_leaf": 2}, seed, n_jobs=n_jobs)
        row[f"rf_{n_jobs}"] = r["fit_seconds"]  # includes its validation and test predictions
        log(f"{name} RF n_jobs={n_jobs}: {row[f'rf_{n_jobs}']:.1f} s")
    return row


def write(rows: list[dict], meta: dict, out: Path) -> None:
    lines = ["# Fit time of the default heads: residual forests on one thread vs on the cores", "",
             f"Machine: {meta['cpu']}, {meta['cores']} cores, torch threads {meta['torch_threads']}; load average "
             f"(1/5/15 min) {meta['load_start']} at the start, {meta['load_end']} at the end. Started "
             f"{meta['date']}; seed {meta['seed']}. Command: `{meta['command']}`.", "",
             "Fit on the benchmark's training rows, precomputed float32 embedding of the shipped model (not timed). "
             "CHMR = `CHMRClassifier()` / `CHMRRegressor()` at default settings (two heads, "
             "`rf_residual=\"auto\"`, 500-tree residual forests on the 1191 bits); RF = one 500-tree forest "
             "per task on the same bits (min_samples_leaf 2), its fit plus validation and test predictions.", "",
             "| dataset | train rows | tasks | CHMR n_jobs=1 (s) | CHMR default (s) | speed-up | "
             "max abs diff of test predictions | RF n_jobs=1 (s) | RF n_jobs=2 (s) | RF speed-up |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['train']} | {r['tasks']} | {r['chmr_1']:.1f} | {r['chmr_default']:.1f} | "
                     f"{r['chmr_1'] / r['chmr_default']:.2f}x | {r['max_abs_diff']:.1e} | {r['rf_1']:.1f} | "
                     f"{r['rf_2']:.1f} | {r['rf_1'] / r['rf_2']:.2f}x |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1), encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["bace", "sider"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    start = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - start:7.1f}s {msg}", flush=True)

    meta = {**machine_info(), "torch_threads": torch.get_num_threads(), "seed": args.seed,
            "command": "python benchmarks/fit_threads.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    rows = []
    for name in args.datasets:
        rows.append(measure(name, args.seed, log))
        meta["load_end"] = load_average()
        write(rows, meta, args.out)
    log(f"wrote {args.out} (+ .json)")


if __name__ == "__main__":
    main()
