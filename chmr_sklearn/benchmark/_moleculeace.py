"""MoleculeACE benchmark: RF / SVR (Tanimoto kernel) on the 1191 bits, CHMRRegressor(), chemprop.

Per set, on the set's own train/test split (van Tilborg et al. 2022): RMSE on every test molecule
and on the test molecules with ``cliff_mol == 1``, as the MoleculeACE paper reports. Model
selection (the forest's leaf size, the SVR's ``C``) uses an inner validation split of the TRAIN
part only (20 %, stratified on ``cliff_mol``, seed 0); the chosen point is then refitted on the
whole train part for every seed. ``CHMRRegressor`` runs at its default settings (its own internal
validation split), on an embedding computed once per set. chemprop trains on the inner train part
and keeps its best epoch on the inner validation part (it needs a validation set).

The functions are used by ``benchmarks/moleculeace.py``; they are not part of the package's
public API.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from sklearn.svm import SVR

from ..datasets import MOLECULEACE_DATASETS, load_moleculeace
from ..featurize import FingerprintFeaturizer
from ._chemprop import chemprop_executable, fit_chemprop
from ..estimators import CHMRRegressor
from ._data import BenchData, cached_transformer
from ._machine import describe_machine, machine_info

__all__ = ["ACE_CHEMPROP_SETS", "ACE_MODELS", "AceData", "ace_plan", "ace_scores", "load_ace", "merge_ace_reports",
           "run_moleculeace", "select_then_seeds", "tanimoto_gram", "write_ace_report"]

# chemprop on the 5 smallest sets (615-731 molecules), fixed before any result was seen: a
# 50-epoch D-MPNN per seed is the most expensive model here.
ACE_CHEMPROP_SETS = ("CHEMBL2835_Ki", "CHEMBL2047_EC50", "CHEMBL1871_Ki", "CHEMBL4616_EC50", "CHEMBL4203_Ki")
# Earlier defaults, each kept as its own column: chmr_auto (before rf_residual="blend"), chmr_nodesc
# (also before descriptors=True), chmr_1head (also before n_heads=2).
ACE_MODELS = {"rf": "RF (1191 bits)", "svr": "SVR (Tanimoto)", "chmr": "CHMRRegressor()",
              "chmr_auto": 'CHMRRegressor(rf_residual="auto")',
              "chmr_nodesc": 'CHMRRegressor(rf_residual="auto", descriptors=False)',
              "chmr_1head": 'CHMRRegressor(rf_residual="auto", n_heads=1, descriptors=False)', "chemprop": "chemprop"}
_CHMR_VARIANTS = {"chmr": {}, "chmr_auto": {"rf_residual": "auto"},
                  "chmr_nodesc": {"rf_residual": "auto", "descriptors": False},
                  "chmr_1head": {"rf_residual": "auto", "n_heads": 1, "descriptors": False}}
_QUICK_SETS = ("CHEMBL2835_Ki", "CHEMBL4203_Ki")


@dataclass
class AceData:
    """One MoleculeACE set: all rows, the benchmark's train/test positions, an inner split of train.

    Examples
    --------
    >>> d = load_ace("CHEMBL2835_Ki")
    >>> len(d.train), len(d.test), int(d.cliff[d.test].sum())
    (489, 126, 13)
    >>> len(d.inner_train) + len(d.inner_valid) == len(d.train)
    True
    """

    name: str
    smiles: np.ndarray
    y: np.ndarray
    cliff: np.ndarray  # bool, all rows
    train: np.ndarray
    test: np.ndarray
    inner_train: np.ndarray  # positions into all rows, a subset of train
    inner_valid: np.ndarray

    def bench(self) -> BenchData:
        """The set as :class:`BenchData` with split (inner train, inner valid, test) for chemprop."""
        return BenchData(name=self.name, smiles=self.smiles, Y=self.y[:, None], kind="regression",
                         split=(self.inner_train, self.inner_valid, self.test),
                         protocol={"method": "moleculeace", "inner_valid": 0.2, "random_state": 0},
                         task_names=["y"])


def load_ace(name: str, valid_fraction: float = 0.2, random_state: int = 0) -> AceData:
    """Load MoleculeACE set ``name``; the inner validation split is stratified on ``cliff_mol``.

    Examples
    --------
    >>> d = load_ace("CHEMBL4203_Ki")
    >>> d.smiles.shape, len(d.inner_valid)
    ((731,), 117)
    """
    ace = load_moleculeace(name, as_frame=False)
    split = np.asarray(ace.split)
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    cliff = np.asarray(ace.cliff_mol) == 1
    inner_train, inner_valid = train_test_split(train, test_size=valid_fraction, random_state=random_state,
                                                stratify=cliff[train])
    return AceData(name=name, smiles=np.asarray(ace.data, dtype=object), y=np.asarray(ace.target, dtype=np.float64),
                   cliff=cliff, train=train, test=test, inner_train=np.sort(inner_train),
                   inner_valid=np.sort(inner_valid))


def tanimoto_gram(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of every row of binary ``A`` with every row of binary ``B``.

    Two empty fingerprints have similarity 0 (not 0/0).

    Examples
    --------
    >>> A = np.array([[1, 1, 0], [0, 0, 0]], dtype=float)
    >>> tanimoto_gram(A, np.array([[1, 0, 0], [1, 1, 0]], dtype=float))
    array([[0.5, 1. ],
           [0. , 0. ]])
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    inter = A @ B.T
    union = A.sum(1)[:, None] + B.sum(1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def ace_scores(y: np.ndarray, pred: np.ndarray, cliff: np.ndarray) -> dict:
    """RMSE on all rows and on the activity-cliff rows, and MAE.

    Examples
    --------
    >>> ace_scores(np.array([0.0, 1.0]), np.array([0.0, 3.0]), np.array([False, True]))
    {'rmse': 1.4142135623730951, 'rmse_cliff': 2.0, 'mae': 1.0}
    """
    err = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    cliff = np.asarray(cliff, dtype=bool)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))),
            "rmse_cliff": float(np.sqrt(np.mean(err[cliff] ** 2))) if cliff.any() else float("nan"),
            "mae": float(np.mean(np.abs(err)))}


FitPredict = Callable[[dict, int, np.ndarray, np.ndarray], np.ndarray]


def select_then_seeds(d: AceData, fit_predict: FitPredict, grid: Sequence[dict], seeds: Sequence[int],
                      log: Callable = print, label: str = "") -> dict:
    """Choose a grid point on the inner validation split (seed ``seeds[0]``), then fit it on the
    whole train part once per seed and score the test part.

    ``fit_predict(params, seed, fit_rows, predict_rows)`` returns predictions for
    ``predict_rows``. A one-point grid skips the selection fits.

    Examples
    --------
    >>> d = load_ace("CHEMBL2835_Ki")
    >>> mean = lambda p, s, fit, pred: np.full(len(pred), d.y[fit].mean() + p["shift"])
    >>> r = select_then_seeds(d, mean, [{"shift": 0.0}, {"shift": 5.0}], [0], log=lambda m: None)
    >>> r["chosen"], sorted(r["runs"][0]["test"])
    ('shift=0.0', ['mae', 'rmse', 'rmse_cliff'])
    """
    points = {",".join(f"{k}={v}" for k, v in p.items()) or "defaults": p for p in grid}
    selection = {}
    if len(points) > 1:
        for pid, params in points.items():
            pred = fit_predict(params, seeds[0], d.inner_train, d.inner_valid)
            selection[pid] = ace_scores(d.y[d.inner_valid], pred, d.cliff[d.inner_valid])["rmse"]
            log(f"{label} {pid}: inner-valid RMSE {selection[pid]:.4f}")
    chosen = min(selection, key=selection.get) if selection else next(iter(points))
    runs = []
    for seed in seeds:
        t = time.perf_counter()
        pred = fit_predict(points[chosen], seed, d.train, d.test)
        runs.append({"seed": seed, "test": ace_scores(d.y[d.test], pred, d.cliff[d.test]),
                     "fit_seconds": time.perf_counter() - t})
        log(f"{label} {chosen} seed {seed}: test RMSE {runs[-1]['test']['rmse']:.4f} "
            f"cliff {runs[-1]['test']['rmse_cliff']:.4f} ({runs[-1]['fit_seconds']:.1f}s)")
    return {"status": "ok", "chosen": chosen, "selection": selection, "runs": runs}


def ace_plan(quick: bool = False) -> dict:
    """Grids and budgets. Full: the downstream benchmark's forest grid, MoleculeACE's SVM ``C``
    grid, the CHMR head at its defaults, chemprop at its defaults (50 epochs, no early stop).

    Examples
    --------
    >>> ace_plan()["svr_C"]
    [1.0, 10.0, 100.0, 1000.0, 10000.0]
    >>> ace_plan(quick=True)["chmr_params"]
    {'max_epochs': 10}
    """
    if quick:
        return {"rf_grid": [{"n_estimators": 50, "min_samples_leaf": 1}, {"n_estimators": 50, "min_samples_leaf": 2}],
                "svr_C": [1.0, 100.0], "chmr_params": {"max_epochs": 10}, "chemprop_epochs": 2,
                "chemprop_patience": 2, "sets": list(_QUICK_SETS), "chemprop_sets": list(_QUICK_SETS[:1])}
    return {"rf_grid": [{"n_estimators": 500, "min_samples_leaf": 1}, {"n_estimators": 500, "min_samples_leaf": 2}],
            "svr_C": [1.0, 10.0, 100.0, 1000.0, 10000.0], "chmr_params": {}, "chemprop_epochs": 50,
            "chemprop_patience": 50, "sets": list(MOLECULEACE_DATASETS), "chemprop_sets": list(ACE_CHEMPROP_SETS)}


def _rf(F, y, n_jobs):
    def fit_predict(params, seed, fit, pred):
        rf = RandomForestRegressor(**params, n_jobs=n_jobs, random_state=seed).fit(F[fit], y[fit])
        return rf.predict(F[pred])
    return fit_predict


def _svr(F, y):
    def fit_predict(params, seed, fit, pred):  # deterministic: the seed plays no part
        svr = SVR(kernel="precomputed", C=params["C"], epsilon=0.1).fit(tanimoto_gram(F[fit], F[fit]), y[fit])
        return svr.predict(tanimoto_gram(F[pred], F[fit]))
    return fit_predict


def _chmr(smiles, y, params, n_jobs, transformer):
    def fit_predict(_, seed, fit, pred):
        # On the SMILES, as a user fits: the estimator reads the embedding from the transformer's
        # disk cache and adds what it computes from the molecules itself (the descriptors; the
        # forest on the fingerprint block). The transformer is cloned, cache directory included.
        est = CHMRRegressor(transformer, **params, n_jobs=n_jobs, device="cpu", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            est.fit(smiles[fit], y[fit])
        return est.predict(smiles[pred])
    return fit_predict


def _chemprop_run(d: AceData, seeds, plan: dict, workdir: str, log: Callable) -> dict:
    bench = d.bench()
    runs = []
    for seed in seeds:
        r = fit_chemprop(bench, seed, workdir, epochs=plan["chemprop_epochs"], patience=plan["chemprop_patience"])
        preds = pd.read_csv(Path(workdir) / f"{d.name}_seed{seed}" / "preds.csv")
        test_pred = preds["t0"].to_numpy(dtype=np.float64)[len(d.inner_valid):]  # rows: inner valid, then test
        runs.append({"seed": seed, "test": ace_scores(d.y[d.test], test_pred, d.cliff[d.test]),
                     "fit_seconds": r["fit_seconds"], **({"epochs": r["epochs"]} if "epochs" in r else {})})
        log(f"{d.name} chemprop seed {seed}: test RMSE {runs[-1]['test']['rmse']:.4f} "
            f"cliff {runs[-1]['test']['rmse_cliff']:.4f} ({r['fit_seconds']:.1f}s)")
    return {"status": "ok", "chosen": f"epochs={plan['chemprop_epochs']}", "selection": {}, "runs": runs}


def _run_set(name, seeds, plan, models, n_jobs, workdir, log) -> dict:
    t0 = time.perf_counter()
    d = load_ace(name)
    F = FingerprintFeaturizer().fit_transform(d.smiles).astype(np.float32)  # the baselines' 1191 bits
    y = d.y
    res = {"name": name, "n_train": len(d.train), "n_test": len(d.test), "n_test_cliff": int(d.cliff[d.test].sum()),
           "embed_seconds": 0.0, "models": {}}
    lab = f"{name}"
    if "rf" in models:
        res["models"]["rf"] = select_then_seeds(d, _rf(F, y, n_jobs), plan["rf_grid"], seeds, log, f"{lab} rf")
    if "svr" in models:
        res["models"]["svr"] = select_then_seeds(d, _svr(F, y), [{"C": c} for c in plan["svr_C"]], seeds[:1], log,
                                                 f"{lab} svr")
    chmr_models = [m for m in _CHMR_VARIANTS if m in models]
    if chmr_models:
        with tempfile.TemporaryDirectory(prefix="chmr_ace_embed_") as cache:
            transformer, res["embed_seconds"] = cached_transformer(d.smiles, cache, n_jobs)
            for key in chmr_models:
                params = {**plan["chmr_params"], **_CHMR_VARIANTS[key]}
                res["models"][key] = select_then_seeds(d, _chmr(d.smiles, y, params, n_jobs, transformer), [{}],
                                                       seeds, log, f"{lab} {key}")
    if "chemprop" in models and name in plan["chemprop_sets"]:
        if chemprop_executable() is None:
            res["models"]["chemprop"] = {"status": "not installed"}
        else:
            res["models"]["chemprop"] = _chemprop_run(d, seeds, plan, workdir, log)
    res["wall_seconds"] = time.perf_counter() - t0
    return res


def run_moleculeace(names: Sequence[str] | None = None, *, seeds: Sequence[int] = (0, 1, 2), quick: bool = False,
                    models: Sequence[str] = tuple(ACE_MODELS), n_jobs: int = 1, out: str | os.PathLike | None = None,
                    log: Callable = print, command: str = "") -> dict:
    """Run every model on every set; write the report (``out`` .md + .json) after each set.

    Examples
    --------
    A tiny run on one set (a smoke run, not a result):

    >>> res = run_moleculeace(["CHEMBL2835_Ki"], seeds=[0], quick=True, models=["svr"], log=lambda m: None)
    >>> r = res["results"][0]
    >>> r["n_test_cliff"], r["models"]["svr"]["runs"][0]["test"]["rmse"] < 1.5
    (13, True)
    """
    plan = ace_plan(quick)
    names = list(names or plan["sets"])
    started = _dt.datetime.now().isoformat(timespec="seconds")
    meta = {"started": started, "quick": quick, "seeds": list(seeds), "plan": plan, "models": list(models),
            "machine": machine_info(), "load_start": list(os.getloadavg()), "command": command}
    report = {"meta": meta, "results": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chmr_ace_") as workdir:
        for name in names:
            report["results"].append(_run_set(name, list(seeds), plan, models, n_jobs, workdir, log))
            meta.update(load_end=list(os.getloadavg()), wall_seconds=time.perf_counter() - t0,
                        pending=names[len(report["results"]):])
            if out is not None:
                write_ace_report(report, out)
    return report


def merge_ace_reports(parts: list[dict]) -> dict:
    """One report from runs that covered other models of the same sets (e.g. chemprop run later).

    A set's models are the union over the runs (a later run's result for a model wins); the
    plan, machine and start come from the first run, the commands are joined and the wall time
    is the longest; a set is pending when no run has a result for it.

    Examples
    --------
    >>> a = {"meta": {"models": ["rf"], "command": "a", "wall_seconds": 5, "seeds": [0]},
    ...      "results": [{"name": "X", "models": {"rf": {"status": "ok"}}}]}
    >>> b = {"meta": {"models": ["chemprop"], "command": "b", "wall_seconds": 9, "seeds": [0]},
    ...      "results": [{"name": "X", "models": {"chemprop": {"status": "ok"}}}]}
    >>> m = merge_ace_reports([a, b])
    >>> sorted(m["results"][0]["models"]), m["meta"]["models"], m["meta"]["wall_seconds"]
    (['chemprop', 'rf'], ['rf', 'chemprop'], 9)
    >>> [run["command"] for run in merge_ace_reports([m, b])["meta"]["runs"]]  # each run keeps its own line
    ['a', 'b', 'b']
    >>> a["meta"]["pending"] = ["Y", "Z"]
    >>> merge_ace_reports([a, {**b, "results": [{"name": "Y", "models": {}}]}])["meta"]["pending"]
    ['Z']
    """
    if len({tuple(p["meta"]["seeds"]) for p in parts}) > 1:
        raise ValueError("the runs to merge used different seeds: " + str([p["meta"]["seeds"] for p in parts]))
    results: dict[str, dict] = {}
    for r in (r for p in parts for r in p["results"]):
        kept = results.setdefault(r["name"], {**r, "models": {}})
        kept["models"].update(r["models"])
    models = list(dict.fromkeys(m for p in parts for m in p["meta"]["models"]))
    meta = dict(parts[0]["meta"], models=models, runs=[run for p in parts for run in _runs(p["meta"])],
                command=" + ".join(p["meta"].get("command", "") for p in parts),
                wall_seconds=max(p["meta"].get("wall_seconds", 0) for p in parts),
                load_end=parts[-1]["meta"].get("load_end", parts[-1]["meta"].get("load_start")),
                pending=[s for s in dict.fromkeys(s for p in parts for s in p["meta"].get("pending", []))
                         if s not in results])
    return {"meta": meta, "results": list(results.values())}


def _runs(meta: dict) -> list[dict]:
    """The runs behind a report: its own, or those it was merged from (each with its machine and load)."""
    keys = ("command", "machine", "started", "load_start", "load_end", "wall_seconds")
    return meta.get("runs") or [{k: meta.get(k) for k in keys}]


def _run_line(run: dict) -> str:
    def load(x):
        return "?" if not x else ", ".join(f"{v:.2f}" for v in x)

    return (f"- started {run.get('started')}, {describe_machine(run.get('machine') or {})}, load average (1/5/15 min) "
            f"{load(run.get('load_start'))} at the start, {load(run.get('load_end'))} at the last write, wall "
            f"{(run.get('wall_seconds') or 0) / 60:.1f} min: `{run.get('command')}`")


def _stats(block: dict | None, key: str) -> tuple[float, float, int] | None:
    if not block or block.get("status") != "ok":
        return None
    v = np.array([r["test"][key] for r in block["runs"]], dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def _cell(s, best: float | None) -> str:
    if s is None:
        return "–"
    txt = f"{s[0]:.3f} ± {s[1]:.3f}" if s[2] > 1 else f"{s[0]:.3f}"
    return f"**{txt}**" if best is not None and np.isclose(s[0], best) else txt


def _table(results: list[dict], key: str, models: list[str]) -> list[str]:
    lines = ["| set | train / test (cliff) | " + " | ".join(ACE_MODELS[m] for m in models) + " |",
             "|---|---|" + "---|" * len(models)]
    for r in results:
        stats = {m: _stats(r["models"].get(m), key) for m in models}
        best = min((s[0] for s in stats.values() if s is not None), default=None)
        lines.append(f"| {r['name']} | {r['n_train']} / {r['n_test']} ({r['n_test_cliff']}) | "
                     + " | ".join(_cell(stats[m], best) for m in models) + " |")
    return lines


def _wins(results: list[dict], key: str, a: str, b: str) -> tuple[int, int]:
    pairs = [(_stats(r["models"].get(a), key), _stats(r["models"].get(b), key)) for r in results]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    return sum(x[0] < y[0] for x, y in pairs), len(pairs)


def _machine_header(meta: dict) -> str:
    """Where and how the numbers were computed: one run's machine and load, or every merged run's."""
    if len(meta.get("runs", [])) >= 2:
        return (f"Seeds {meta['seeds']}. Merged from {len(meta['runs'])} runs (`--merge`), each with its machine "
                "and load:\n\n" + "\n".join(_run_line(run) for run in meta["runs"]))
    m = meta["machine"]
    load = ", ".join(f"{x:.2f}" for x in meta["load_start"])
    load_end = ", ".join(f"{x:.2f}" for x in meta.get("load_end", meta["load_start"]))
    command = f" Command: `{meta['command']}`." if meta.get("command") else ""
    return (f"Machine: {describe_machine(m)}; load average (1/5/15 min) {load} at the start, "
            f"{load_end} at the last write. Started {meta['started']}, wall "
            f"{meta.get('wall_seconds', 0) / 60:.1f} min; seeds {meta['seeds']}.{command}")


def write_ace_report(report: dict, out: str | os.PathLike) -> None:
    """Write ``out`` (Markdown: tables of test RMSE and cliff RMSE, wins, machine) and its .json.

    Examples
    --------
    >>> import tempfile
    >>> res = {"name": "X", "n_train": 8, "n_test": 2, "n_test_cliff": 1, "models": {
    ...     "rf": {"status": "ok", "runs": [{"test": {"rmse": 1.0, "rmse_cliff": 2.0, "mae": 1.0}}]}}}
    >>> meta = {"started": "now", "quick": True, "seeds": [0], "machine": {"cpu": "c", "cores": 2},
    ...         "load_start": [1, 1, 1], "plan": {}, "models": ["rf"]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_ace_report({"meta": meta, "results": [res]}, Path(tmp, "r.md"))
    ...     "| X | 8 / 2 (1) | **1.000** |" in Path(tmp, "r.md").read_text()
    True
    """
    out = Path(out)
    meta, results = report["meta"], report["results"]
    models = [m for m in ACE_MODELS if m in meta["models"]]
    lines = [
        "# MoleculeACE: CHMRRegressor() vs RF, SVR and chemprop on 30 activity-cliff sets",
        "",
        ("**QUICK smoke run: tiny budgets, not a result.**\n" if meta["quick"] else ""),
        _machine_header(meta),
        "",
        "Protocol: each set's own MoleculeACE train/test split; test RMSE (y = -log10 activity in nM, "
        "i.e. pKi/pEC50 units) over all test molecules and over the test molecules with cliff_mol = 1. "
        "RF (leaf size) and SVR (C) are chosen on an inner 80/20 split of the train part (stratified "
        "on cliff_mol, seed 0), then refitted on the whole train part; the test part is never used "
        "for a choice. RF: 1191 bits (Morgan r2 1024 + MACCS), the downstream benchmark's grid. SVR: "
        "Tanimoto kernel on the same bits (`SVR(kernel='precomputed')`), MoleculeACE's C grid, "
        "epsilon 0.1, deterministic (one run). CHMRRegressor(): default settings, fitted on the SMILES "
        "as a user would, the shipped model's embedding computed once per set into a disk cache (runs "
        "before 5 December fitted the same head on that embedding as numbers, which lost nothing then); "
        'CHMRRegressor(rf_residual="auto"): each head keeps the better of its two variants instead of '
        'blending them (the default before rf_residual="blend", so runs of that time list it as `chmr`); '
        'CHMRRegressor(rf_residual="auto", descriptors=False): also without the 79 RDKit descriptors '
        '(the default before descriptors=True); CHMRRegressor(rf_residual="auto", n_heads=1, '
        'descriptors=False): also with one head (the default before n_heads=2). chemprop: its defaults '
        "(50 epochs, no early stop, best epoch on the inner validation part) on the 5 smallest sets, "
        "chosen before any result. "
        "Mean ± std over seeds; bold = best of the row.",
        "",
        f"Plan: `{json.dumps({k: v for k, v in meta['plan'].items() if k not in ('sets',)})}`",
        "",
    ] + ([meta["notes"], ""] if meta.get("notes") else [])
    for key, title in (("rmse", "Test RMSE (all test molecules)"), ("rmse_cliff", "Test RMSE on activity-cliff molecules")):
        lines += [f"## {title}", ""] + _table(results, key, models) + [""]
        means = {mm: [s[0] for r in results if (s := _stats(r["models"].get(mm), key))] for mm in models}
        lines.append("Mean over the sets where the model ran: " + ", ".join(
            f"{ACE_MODELS[mm]} {np.mean(v):.3f} ({len(v)} sets)" for mm, v in means.items() if v) + ".")
        wins = [f"vs {ACE_MODELS[b]} {w}/{n}" for b in models if b != "chmr"
                for w, n in [_wins(results, key, "chmr", b)] if n]
        if "chmr" in models and wins:
            lines.append("CHMRRegressor() lower RMSE: " + ", ".join(wins) + ".")
        lines.append("")
    if meta.get("pending"):
        lines += [f"Not yet run: {', '.join(meta['pending'])}.", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float), encoding="utf-8")
