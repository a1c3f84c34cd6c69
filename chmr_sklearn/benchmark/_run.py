"""The downstream benchmark driver: per dataset load+split, embed once, grid on valid, seeds, report."""

from __future__ import annotations

import copy
import datetime as _dt
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..featurize import FingerprintFeaturizer
from ._chemprop import chemprop_executable, fit_chemprop
from ._data import DATASETS, N_FP, BenchData, cached_transformer, embed, load_split, split_digest
from ._machine import load_average, machine_info
from ._models import fit_default, fit_head, fit_rf, grid_then_seeds
from ._report import write_report

__all__ = ["MODELS", "VARIANTS", "merge_runs", "plan", "run_downstream"]

MODELS = {
    "chmr": "CHMR head",
    "chmr_rf": "CHMR + RF residual",
    "chmr_default": "CHMR defaults",
    "fp_mlp": "FP-MLP",
    "rf": "RF",
    "chemprop": "chemprop",
}
# Extra splits of a dataset: ToxCast is scored on OGB 80/10/10 (CHMR's code and InfoAlign's
# paper-era code); InfoAlign's current code uses its 60/15/25 group split (DESIGN §5).
VARIANTS = {"toxcast_6015": ("toxcast", {"method": "random_groups", "sizes": (0.6, 0.15, 0.25), "random_state": 3})}

PRECISION = "float64"  # the transformer's default; float32 (faster) was not validated on the metrics
_HEAD_GRID = [{"lr": 1e-3, "dropout": 0.2, "hidden": 1200}, {"lr": 1e-3, "dropout": 0.5, "hidden": 512},
              {"lr": 1e-4, "dropout": 0.2, "hidden": 1200}, {"lr": 1e-4, "dropout": 0.5, "hidden": 512}]
_FULL = {"head_grid": _HEAD_GRID, "epochs": 100, "patience": 15, "gammas": [0.1, 1.0], "residual_trees": 500,
             "rf_grid": [{"n_estimators": 500, "min_samples_leaf": 1}, {"n_estimators": 500, "min_samples_leaf": 2}],
             "chemprop_epochs": 50, "chemprop_patience": None}  # chemprop's own defaults
# CPU budget: 2 cores (a load average of 8-11 from other processes during the run that chose these), so
# every dataset runs a cut-down version of _FULL: the two head points and the forest / gamma settings the 4-dataset
# full-grid run chose most often (benchmarks/results/downstream.md of 14:57: head (1e-3, 0.2, 1200)
# on ChEMBL2K and BACE, (1e-4, 0.5, *) on BBBP and ESOL; leaf 2 and gamma 0.1 on 4/4 and 3/4).
# The forest's cost grows with labelled (molecule, task) pairs, chemprop's with molecules x epochs;
# chemprop_epochs=0 skips it. Every difference from _FULL is written into the report.
_ALL_SETS = {"head_grid": [_HEAD_GRID[0], _HEAD_GRID[3]], "epochs": 60, "patience": 10, "gammas": [0.1],
             "rf_grid": [{"n_estimators": 500, "min_samples_leaf": 2}]}
# chemprop runs at its defaults everywhere (issue 13: a peer cut short is no comparison).
_REDUCED = {
    "broad6k": {"residual_trees": 100, "rf_grid": [{"n_estimators": 100, "min_samples_leaf": 2}]},
    "toxcast": {"head_grid": [_HEAD_GRID[0]], "residual_trees": 50,
                "rf_grid": [{"n_estimators": 50, "min_samples_leaf": 2}]},
    "hiv": {"epochs": 30, "patience": 5, "residual_trees": 100,
            "rf_grid": [{"n_estimators": 100, "min_samples_leaf": 2}]},
}
_QUICK = {"head_grid": [{"lr": 1e-3, "dropout": 0.2, "hidden": 512}, {"lr": 1e-4, "dropout": 0.2, "hidden": 512}],
              "epochs": 10, "patience": 3, "gammas": [0.1], "residual_trees": 50,
              "rf_grid": [{"n_estimators": 50, "min_samples_leaf": 1}, {"n_estimators": 50, "min_samples_leaf": 2}],
              "chemprop_epochs": 2, "chemprop_patience": 1}


def plan(name: str, quick: bool = False, full: bool = False) -> dict:
    """Grids and epoch budgets for dataset ``name``; ``"reductions"`` lists what differs from full.

    ``full=True`` gives every dataset the full grids (``_FULL``), without the CPU-budget cuts.

    Examples
    --------
    >>> plan("hiv")["reductions"][:2]
    ['head grid 2 points (of 4)', 'head max 30 epochs, patience 5 (of 100, 15)']
    >>> plan("bace")["chemprop_epochs"], plan("bace")["chemprop_patience"]  # chemprop's defaults
    (50, None)
    >>> plan("hiv", full=True)["reductions"], len(plan("hiv", full=True)["head_grid"])
    ([], 4)
    """
    base = VARIANTS.get(name, (name,))[0]
    if quick:
        return dict(_QUICK, reductions=["QUICK mode: tiny grids and epoch budgets (a smoke run, not a result)"])
    p = dict(_FULL)
    if not full:
        p.update(_ALL_SETS, **_REDUCED.get(base, {}))
    notes = []
    if len(p["head_grid"]) < len(_FULL["head_grid"]):
        notes.append(f"head grid {len(p['head_grid'])} points (of {len(_FULL['head_grid'])})")
    if p["epochs"] != _FULL["epochs"]:
        notes.append(f"head max {p['epochs']} epochs, patience {p['patience']} "
                     f"(of {_FULL['epochs']}, {_FULL['patience']})")
    if p["gammas"] != _FULL["gammas"]:
        notes.append(f"residual gamma fixed at {p['gammas'][0]} (grid {_FULL['gammas']})")
    if p["residual_trees"] != _FULL["residual_trees"]:
        notes.append(f"residual forest {p['residual_trees']} trees (of {_FULL['residual_trees']})")
    if p["rf_grid"] != _FULL["rf_grid"]:
        notes.append("RF " + "; ".join(f"{g['n_estimators']} trees, min_samples_leaf={g['min_samples_leaf']}"
                                        for g in p["rf_grid"]) + " (of 500 trees, leaf {1, 2})")
    if p["chemprop_epochs"] == 0:
        notes.append("chemprop not run (CPU budget)")
    elif p["chemprop_epochs"] != _FULL["chemprop_epochs"]:
        notes.append(f"chemprop {p['chemprop_epochs']} epochs, patience {p['chemprop_patience']} "
                     f"(of {_FULL['chemprop_epochs']}, {_FULL['chemprop_patience']})")
    return dict(p, reductions=notes)


def _resolve(item) -> tuple[str, Callable | None, dict | None]:
    """A dataset item: a name (DATASETS or VARIANTS) or a ``(name, loader)`` pair."""
    if isinstance(item, tuple):
        return item[0], item[1], None
    if item in VARIANTS:
        base, protocol = VARIANTS[item]
        return item, DATASETS[base], protocol
    if item not in DATASETS:
        raise ValueError(f"unknown dataset {item!r}; choose from {sorted(DATASETS) + sorted(VARIANTS)}")
    return item, None, None


def _run_models(data: BenchData, E: np.ndarray | None, F: np.ndarray | None, p: dict, seeds, n_jobs: int,
                log: Callable, models, quick: bool = False) -> dict:
    """CHMR head, CHMR + RF residual, the shipped defaults, fingerprint MLP and RF (those in ``models``)."""
    kind, name = data.kind, data.name
    common = {"epochs": p["epochs"], "patience": p["patience"], "n_jobs": n_jobs}
    out = {}
    if "chmr" in models:
        out["chmr"] = grid_then_seeds(p["head_grid"], lambda g, s: fit_head(data, E, g, s, **common), seeds, kind,
                                      log, f"[{name}] CHMR")
    if "chmr_rf" in models:
        best = out["chmr"]["params"][out["chmr"]["chosen"]]
        out["chmr_rf"] = grid_then_seeds(
            [{"gamma": g} for g in p["gammas"]],
            lambda g, s: fit_head(data, E, best, s, gamma=g["gamma"], rf_trees=p["residual_trees"], **common),
            seeds, kind, log, f"[{name}] CHMR+RF")
        out["chmr_rf"]["head"] = out["chmr"]["chosen"]
    if "chmr_default" in models:
        out["chmr_default"] = _run_defaults(data, seeds, n_jobs, log, quick, p["defaults_params"])
    if "fp_mlp" in models:
        out["fp_mlp"] = grid_then_seeds(p["head_grid"], lambda g, s: fit_head(data, F, g, s, **common), seeds, kind,
                                        log, f"[{name}] FP-MLP")
    if "rf" in models:
        out["rf"] = grid_then_seeds(p["rf_grid"], lambda g, s: fit_rf(data, F, g, s, n_jobs=n_jobs), seeds, kind,
                                    log, f"[{name}] RF")
    for model in set(MODELS) - set(models):
        out[model] = {"status": "not run", "runs": {}}
    return out


def _run_defaults(data: BenchData, seeds, n_jobs: int, log: Callable, quick: bool, params: dict) -> dict:
    """``CHMRClassifier()`` / ``CHMRRegressor()`` as shipped, one fit per seed on the SMILES.

    The molecules are embedded once into a temporary disk cache that every seed's fit reads
    (the estimator clones the transformer, cache directory included); no grid, no choice.
    ``params`` (a candidate default, e.g. ``{"descriptors": True}``) change the estimator's
    defaults and are named in the column's chosen point.
    """
    quick_overrides = {"max_epochs": 10, "patience": 3, "rf_n_estimators": 50} if quick else {}
    overrides = {**quick_overrides, **params}
    runs = []
    with tempfile.TemporaryDirectory(prefix="chmr_default_") as cache:
        transformer, _ = cached_transformer(data.smiles, cache, n_jobs)
        for seed in seeds:
            r = fit_default(data, transformer, seed, overrides)
            key = "roc_auc" if data.kind == "classification" else "mae"
            log(f"[{data.name}] CHMR defaults seed {seed}: valid {r['valid'][key]:.4f} test {r['test'][key]:.4f} "
                f"({r['fit_seconds']:.1f}s; heads' epochs {[h['epochs'] for h in r['heads']]}, "
                f"rf_residual {[h['rf_residual'] for h in r['heads']]})")
            runs.append(r)
    named = ", ".join(f"{k}={v}" for k, v in overrides.items())
    pid = "defaults" + (f" (QUICK: {named})" if quick else f" ({named})" if params else "")
    return {"status": "ok", "chosen": pid, "params": {pid: overrides}, "runs": {pid: runs}, "selection": {}}


def _run_chemprop(data: BenchData, p: dict, seeds, workdir: str, log: Callable) -> dict:
    runs = []
    for seed in seeds:
        r = fit_chemprop(data, seed, workdir, epochs=p["chemprop_epochs"], patience=p["chemprop_patience"],
                         accelerator=p.get("chemprop_accelerator", "cpu"))
        key = "roc_auc" if data.kind == "classification" else "mae"
        log(f"[{data.name}] chemprop seed {seed}: valid {r['valid'][key]:.4f} test {r['test'][key]:.4f} "
            f"({r['fit_seconds']:.1f}s, {r.get('epochs', '?')} ep)")
        runs.append(r)
    pid = f"epochs={p['chemprop_epochs']},patience={p['chemprop_patience']} (chemprop defaults otherwise)"
    return {"status": "ok", "chosen": pid, "params": {pid: {}}, "runs": {pid: runs}, "selection": {}}


def run_downstream(datasets, *, seeds=(0, 1, 2), quick: bool = False, n_jobs: int = 2, out=None,
                   log: Callable = print, chemprop: bool = True, models=tuple(MODELS),
                   chemprop_accelerator: str = "cpu", full: bool = False, defaults_params: dict | None = None) -> dict:
    """Benchmark CHMR against RF, a fingerprint MLP and chemprop on identical scaffold splits.

    Per dataset: load and split once (:func:`load_split`), embed every molecule once with the
    shipped ``CHMRTransformer``, choose each model's grid point on the first seed's
    *validation* score, run the chosen point on every seed, and report mean ± std of the test
    scores. chemprop runs as a separate process beside the other models (one at a time).

    Parameters
    ----------
    datasets : sequence
        Names from :data:`DATASETS` (or ``"toxcast_6015"``, ToxCast on the 60/15/25 group
        split), or ``(name, loader)`` pairs with a loader returning a dataset Bunch.
    seeds : sequence of int, default=(0, 1, 2)
        Seeds of the models; the split is the dataset's fixed benchmark split.
    quick : bool, default=False
        Tiny grids and epoch budgets (smoke runs; not results).
    n_jobs : int, default=2
        Workers for featurization and forests.
    out : path, optional
        Markdown report; its ``.json`` (raw numbers) and ``.png`` (bar chart) siblings are
        written too, after every finished dataset.
    log : callable, default=print
        Progress lines.
    chemprop : bool, default=True
        Run the chemprop column (reported as "not installed" when its CLI is absent).
    models : sequence of str, default=all of :data:`MODELS`
        The columns to run ("chmr_rf" needs "chmr"); the others are reported "not run". Without
        "chmr" / "chmr_rf" nothing is embedded (the fingerprint models use the 1191 bits), and
        chemprop alone needs no features at all.
    chemprop_accelerator : {"cpu", "gpu"}, default="cpu"
        Where chemprop trains (its ``--accelerator``); recorded in the report.
    full : bool, default=False
        Full grids for every dataset (no CPU-budget cuts; see :func:`plan`).
    defaults_params : dict, optional
        Parameters that replace some of the "chmr_default" column's defaults (a candidate
        default measured before it is adopted, e.g. ``{"descriptors": True}``).

    Returns
    -------
    dict
        ``{"meta": ..., "results": [per-dataset dict with "models"]}``.

    Examples
    --------
    A smoke run on the first 80 FreeSolv molecules (a ``(name, loader)`` pair):

    >>> from sklearn.utils import Bunch
    >>> from chmr_sklearn.datasets import load_freesolv
    >>> full = load_freesolv()
    >>> def first_80(drop_invalid=True):
    ...     return Bunch(data=full.data[:80], target=full.target[:80], target_names=full.target_names,
    ...                  metric=full.metric, split_protocol=None)
    >>> res = run_downstream([("freesolv80", first_80)], seeds=(0,), quick=True, chemprop=False,
    ...                      log=lambda m: None)
    >>> sorted(res["results"][0]["models"])
    ['chemprop', 'chmr', 'chmr_default', 'chmr_rf', 'fp_mlp', 'rf']
    """
    seeds = [int(s) for s in seeds]
    models = [m for m in MODELS if m in models]
    if "chmr_rf" in models and "chmr" not in models:
        raise ValueError("models: 'chmr_rf' takes the head chosen for 'chmr'; include 'chmr'.")
    items = [_resolve(d) for d in datasets]
    start = time.perf_counter()
    report = _new_report(seeds, quick, n_jobs, chemprop_accelerator)
    lock = threading.Lock()

    def save():
        with lock:
            report["meta"]["wall_seconds"] = time.perf_counter() - start
            report["meta"]["load_last"] = load_average()
            if out is not None:
                write_report(report, out)

    pool = ThreadPoolExecutor(max_workers=1) if chemprop and "chemprop" in models and chemprop_executable() else None
    workdir = tempfile.mkdtemp(prefix="chmr_chemprop_") if pool is not None else ""
    futures = []
    for name, loader, protocol in items:
        t0 = time.perf_counter()
        data = load_split(name, loader, protocol)
        p = dict(plan(name, quick, full), chemprop_accelerator=chemprop_accelerator,
                 defaults_params=dict(defaults_params or {}))
        result = _new_result(name, data, p)
        log(f"[{name}] {len(data.smiles)} molecules, split {'/'.join(map(str, result['split_sizes']))}, "
            f"{data.Y.shape[1]} tasks ({len(data.tasks_dropped)} dropped), {data.kind}")
        with lock:
            report["results"].append(result)
        # chemprop: queued now, runs in its own process beside this dataset's (and later) models
        status = _chemprop_status(models, pool, p, chemprop)
        result["models"]["chemprop"] = {"status": status, "runs": {}}
        if status == "queued":
            futures.append(pool.submit(_chemprop_job, result, data, p, seeds, workdir, log, save))
        E, F = _features(data, result, models, n_jobs, log)
        block = _run_models(data, E, F, p, seeds, n_jobs, log, models, quick)
        block.pop("chemprop", None)
        with lock:
            result["models"].update(block)
            result["status"] = "done"
            result["wall_seconds"] = time.perf_counter() - t0
        save()
        del E, F
    for f in futures:
        f.result()
    if pool is not None:
        pool.shutdown()
    save()
    return report


def _new_report(seeds: list[int], quick: bool, n_jobs: int, chemprop_accelerator: str) -> dict:
    """The report before any dataset ran: the run's settings, machine and load at the start."""
    meta = {"date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "seeds": seeds, "quick": quick,
            "n_jobs": n_jobs, "precision": PRECISION, "command": " ".join(sys.argv),
            "chemprop_executable": chemprop_executable(), "chemprop_accelerator": chemprop_accelerator,
            "machine": machine_info(), "load_start": load_average()}
    return {"meta": meta, "results": []}


def _chemprop_status(models, pool, p: dict, chemprop: bool) -> str:
    """The chemprop column's status for one dataset: "queued" when it will run, else why not."""
    if "chemprop" not in models:
        return "not run"
    if pool is None:
        return "not installed" if chemprop else "not run"
    return "not run (CPU budget)" if p["chemprop_epochs"] == 0 else "queued"


def _new_result(name: str, data: BenchData, p: dict) -> dict:
    """A dataset's entry in the report, before any model ran: its split (indices kept) and plan."""
    tr, va, te = data.split
    return {"name": name, "kind": data.kind, "n_molecules": len(data.smiles), "n_tasks": int(data.Y.shape[1]),
            "tasks_dropped": data.tasks_dropped, "n_invalid_dropped": data.n_invalid_dropped,
            "split_protocol": {k: (list(v) if isinstance(v, tuple) else v) for k, v in data.protocol.items()},
            "split_sizes": [len(tr), len(va), len(te)], "split_digest": split_digest(data.split),
            "split_indices": [tr.tolist(), va.tolist(), te.tolist()], "plan": dict(p), "models": {},
            "status": "running"}


def _features(data: BenchData, result: dict, models, n_jobs: int, log: Callable):
    """The shipped embedding ``E`` and its 1191 fingerprint columns ``F``, as far as ``models`` need them."""
    if {"chmr", "chmr_rf"} & set(models):
        E, result["embed_seconds"] = embed(data, n_jobs=n_jobs, precision=PRECISION)
        log(f"[{result['name']}] embedded once in {result['embed_seconds']:.1f}s")
        return E, E[:, :N_FP]
    if set(models) - {"chemprop"}:  # the fingerprint models need only the embedding's first 1191 columns
        return None, FingerprintFeaturizer(n_jobs=n_jobs).fit_transform(data.smiles).astype(np.float32)
    return None, None  # chemprop featurizes for itself


def _chemprop_job(result: dict, data: BenchData, p: dict, seeds, workdir: str, log: Callable, save) -> None:
    result["models"]["chemprop"]["status"] = "running"
    try:
        block = _run_chemprop(data, p, seeds, workdir, log)
    # a baseline's failure is reported in its column, the run goes on
    except (OSError, RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        block = {"status": f"failed: {type(exc).__name__}: {str(exc)[:300]}", "runs": {}}
        log(f"[{data.name}] chemprop {block['status']}")
    result["models"]["chemprop"] = block
    save()



def merge_runs(parts: list[dict], datasets: list[str], notes: str = "") -> dict:
    """One downstream result from the JSON results of runs split over processes (by ``models=`` or seeds).

    A dataset's models may come from several runs: a model's finished result wins over one
    that did not run, and two finished results at the same chosen point with different seeds are
    pooled (e.g. chemprop, one process per seed); the dataset is done when every run finished it;
    the wall times are the longest. ``datasets`` lists the datasets asked for (those in no run are
    reported as pending). The parts are left as they were (the same part may go into two merges).

    Raises
    ------
    ValueError
        When two runs finished the same model on the same seed, or at different grid points
        (pooling those would mix two choices).

    Examples
    --------
    >>> a = {"meta": {"command": "a", "wall_seconds": 5}, "results": [{"name": "bace", "status": "done",
    ...      "models": {"rf": {"status": "ok"}, "chmr": {"status": "not run"}}}]}
    >>> b = {"meta": {"command": "b", "wall_seconds": 9}, "results": [{"name": "bace", "status": "done",
    ...      "models": {"rf": {"status": "not run"}, "chmr": {"status": "ok"}}}]}
    >>> merged = merge_runs([a, b], ["bace", "esol"])
    >>> merged["results"][0]["models"], merged["meta"]["pending"], merged["meta"]["wall_seconds"]
    ({'rf': {'status': 'ok'}, 'chmr': {'status': 'ok'}}, ['esol'], 9)
    """
    results: dict = {}
    for r in (r for p in parts for r in p["results"]):
        if r["name"] not in results:
            results[r["name"]] = copy.deepcopy(r)  # pooling below must not change the caller's parts
            continue
        kept = results[r["name"]]
        for m, b in r["models"].items():
            kept["models"][m] = _merge_model(kept["models"].get(m), b, f"{r['name']} {m}")
        kept["status"] = "done" if "done" == kept["status"] == r["status"] else "running"
        for k in ("embed_seconds", "wall_seconds"):
            if k in kept or k in r:
                kept[k] = max(kept.get(k, 0), r.get(k, 0))
    seeds = sorted({s for p in parts for s in p["meta"].get("seeds", [])})
    runs = [r for p in parts for r in p["meta"].get("runs", [_run_line(p["meta"])])]  # merged parts keep theirs
    executables = sorted({e for p in parts for e in _as_list(p["meta"].get("chemprop_executable")) if e})
    meta = dict(parts[0]["meta"], seeds=seeds, wall_seconds=max(p["meta"].get("wall_seconds", 0) for p in parts),
                chemprop_executable=executables or None,
                command=" + ".join(p["meta"].get("command", "") for p in parts), runs=runs,
                pending=[d for d in datasets if d not in results], notes=notes)
    return {"meta": meta, "results": list(results.values())}


def _as_list(value) -> list:
    """A merged report's field holds every run's values, a single run's one value (or None)."""
    return list(value) if isinstance(value, list) else [value]


def _run_line(meta: dict) -> dict:
    """What the merged report's header says of one run: when, where, under what load, what command."""
    keys = ("date", "machine", "load_start", "load_last", "wall_seconds", "command")
    return {k: meta[k] for k in keys if k in meta}


def _merge_model(kept: dict | None, new: dict, what: str) -> dict:
    """A model's block from two runs (see :func:`merge_runs`)."""
    if kept is None or kept.get("status") in (None, "not run"):
        return new
    if new.get("status") != "ok":
        return kept
    if kept.get("status") != "ok":
        return new
    if kept["chosen"] != new["chosen"]:
        raise ValueError(f"{what}: two runs chose different grid points ({kept['chosen']!r} and "
                         f"{new['chosen']!r}); run the seeds in one process, or merge only one of them.")
    pid = kept["chosen"]
    runs = kept["runs"][pid] + new["runs"][pid]
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"{what}: seed(s) {sorted({s for s in seeds if seeds.count(s) > 1})} in more than one run.")
    return dict(kept, runs=dict(kept["runs"], **{pid: sorted(runs, key=lambda r: r["seed"])}))
