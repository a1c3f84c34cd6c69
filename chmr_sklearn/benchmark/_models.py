"""Benchmark step 3 and 4: the models, one fit per (grid point, seed), chosen on validation only.

Every fit gets the same split indices and returns the scores on the validation and the test
rows; :func:`grid_then_seeds` chooses a grid point from the validation scores alone and then
runs the remaining seeds on it, so the test scores are only ever reported.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from ..estimators import CHMRClassifier, CHMRRegressor
from ..model_selection import mean_mae, mean_rmse, mean_roc_auc
from ._data import N_FP, BenchData, split_digest

__all__ = ["fit_default", "fit_head", "fit_rf", "grid_then_seeds", "main_metric", "score"]


def score(kind: str, Y: np.ndarray, P: np.ndarray) -> dict:
    """Scores of predictions ``P`` (n, T) against labels ``Y`` (n, T, NaN = unlabelled).

    Examples
    --------
    >>> Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    >>> score("classification", Y, np.array([[0.1], [0.9], [0.8], [0.3]]))
    {'roc_auc': 1.0}
    """
    if kind == "classification":
        return {"roc_auc": mean_roc_auc(Y, P)}
    return {"mae": mean_mae(Y, P), "rmse": mean_rmse(Y, P)}


def main_metric(kind: str) -> tuple[str, bool]:
    """(score key, greater is better) of the metric that selects and ranks.

    Examples
    --------
    >>> main_metric("regression")
    ('mae', False)
    """
    return ("roc_auc", True) if kind == "classification" else ("mae", False)


class _FPResidualMixin:
    # The benchmark feeds a precomputed concat embedding ("passthrough"); the estimator would
    # then give its residual forest all 2091 columns. Restricted to the fingerprint block, the
    # residual forest sees what the RF baseline sees, as CHMRTransformer input would give it.
    def _forest_columns(self) -> slice:
        return slice(0, N_FP)


class _FPResidualClassifier(_FPResidualMixin, CHMRClassifier):
    pass


class _FPResidualRegressor(_FPResidualMixin, CHMRRegressor):
    pass


def _targets(Y: np.ndarray) -> np.ndarray:
    # Single-task targets go in 1-D (the estimators' single-task mode).
    return Y[:, 0] if Y.shape[1] == 1 else Y


def _as_2d(P, n_tasks: int, kind: str) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if kind == "classification" and n_tasks == 1 and P.ndim == 2 and P.shape[1] == 2:
        return P[:, 1:]
    return P[:, None] if P.ndim == 1 else P


def _predict(est, X, data: BenchData) -> np.ndarray:
    P = est.predict_proba(X) if data.kind == "classification" else est.predict(X)
    return _as_2d(P, data.Y.shape[1], data.kind)


def fit_head(data: BenchData, X: np.ndarray, params: dict, seed: int, *, epochs: int, patience: int,
             gamma: float | None = None, rf_trees: int = 500, n_jobs: int = 1) -> dict:
    """Train the CHMR head on features ``X`` (all rows); early stopping on the validation rows.

    ``X`` is the concat embedding (CHMR) or its fingerprint block (the fingerprint MLP: the same
    head without the learned latents). ``gamma`` adds the random-forest residual.

    Examples
    --------
    >>> from chmr_sklearn.benchmark import load_split
    >>> from chmr_sklearn.featurize import FingerprintFeaturizer
    >>> d = load_split("freesolv")
    >>> F = FingerprintFeaturizer().fit_transform(d.smiles).astype("float32")
    >>> r = fit_head(d, F, {"lr": 1e-3, "hidden": 64, "dropout": 0.2}, 0, epochs=3, patience=2)
    >>> r["epochs"] <= 3, sorted(r["test"])
    (True, ['mae', 'rmse'])
    """
    tr, va, te = data.split
    if data.kind == "classification":
        cls = CHMRClassifier if gamma is None else _FPResidualClassifier
    else:
        cls = CHMRRegressor if gamma is None else _FPResidualRegressor
    est = cls("passthrough", **params, batch_size=256, max_epochs=epochs, patience=patience,
              rf_residual=gamma is not None, gamma=1.0 if gamma is None else gamma, rf_n_estimators=rf_trees,
              n_jobs=n_jobs, device="cpu", random_state=seed)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skorch's notes on the predefined split
        est.fit(X[tr], _targets(data.Y[tr]), validation_data=(X[va], _targets(data.Y[va])))
    seconds = time.perf_counter() - t
    return {"seed": seed, "split": split_digest(data.split), "valid": score(data.kind, data.Y[va], _predict(est, X[va], data)),
                "test": score(data.kind, data.Y[te], _predict(est, X[te], data)),
                "fit_seconds": seconds, "epochs": int(est.n_epochs_)}


def fit_default(data: BenchData, transformer, seed: int, overrides: dict | None = None) -> dict:
    """``CHMRClassifier()`` / ``CHMRRegressor()`` at default settings, fitted as a user would.

    ``fit(smiles[train], y[train])`` with the estimator's own internal validation split for
    early stopping and the ``rf_residual="auto"`` choice; the benchmark's validation and test
    rows are only scored (no grid: nothing is chosen on them). ``transformer`` is the
    disk-cached ``CHMRTransformer`` the estimator clones, so each seed reads the embedding
    instead of recomputing it. ``overrides`` (smoke runs only) replaces some defaults.
    """
    tr, va, te = data.split
    cls = CHMRClassifier if data.kind == "classification" else CHMRRegressor
    est = cls(transformer, **(overrides or {}), device="cpu", random_state=seed)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est.fit(data.smiles[tr], _targets(data.Y[tr]))
    seconds = time.perf_counter() - t
    return {"seed": seed, "split": split_digest(data.split),
            "valid": score(data.kind, data.Y[va], _predict(est, data.smiles[va], data)),
            "test": score(data.kind, data.Y[te], _predict(est, data.smiles[te], data)),
            "fit_seconds": seconds, "epochs": int(est.n_epochs_), "rf_residual": bool(est.rf_residual_),
            "heads": [_head_record(h) for h in est.heads_]}


def _head_record(head) -> dict:
    """A fitted head in a results file: its epochs, its variant (the heavier one when blended), the weights."""
    record = {"epochs": len(head.net.history), "rf_residual": bool(head.rf_residual)}
    if head.weights is not None:
        record["weights"] = {str(v).lower(): round(w, 4) for v, w in head.weights.items()}
    return record


def fit_rf(data: BenchData, F: np.ndarray, params: dict, seed: int, *, n_jobs: int = 1) -> dict:
    """One random forest per task on that task's labelled train rows (fingerprints ``F``).

    Examples
    --------
    >>> from chmr_sklearn.benchmark import load_split
    >>> from chmr_sklearn.featurize import FingerprintFeaturizer
    >>> d = load_split("freesolv")
    >>> F = FingerprintFeaturizer().fit_transform(d.smiles)
    >>> r = fit_rf(d, F, {"n_estimators": 20}, seed=0)
    >>> r["test"]["mae"] > 0
    True
    """
    tr, va, te = data.split
    Y = data.Y
    Pv, Pt = np.zeros((len(va), Y.shape[1])), np.zeros((len(te), Y.shape[1]))
    t = time.perf_counter()
    for task in range(Y.shape[1]):
        rows = tr[~np.isnan(Y[tr, task])]
        if data.kind == "classification":
            rf = RandomForestClassifier(**params, n_jobs=n_jobs, random_state=seed)
            rf.fit(F[rows], Y[rows, task].astype(int))
            Pv[:, task], Pt[:, task] = rf.predict_proba(F[va])[:, 1], rf.predict_proba(F[te])[:, 1]
        else:
            rf = RandomForestRegressor(**params, n_jobs=n_jobs, random_state=seed)
            rf.fit(F[rows], Y[rows, task])
            Pv[:, task], Pt[:, task] = rf.predict(F[va]), rf.predict(F[te])
    return {"seed": seed, "split": split_digest(data.split), "valid": score(data.kind, Y[va], Pv), "test": score(data.kind, Y[te], Pt),
                "fit_seconds": time.perf_counter() - t}


def point_id(params: dict) -> str:
    """Readable, stable name of a grid point.

    Examples
    --------
    >>> point_id({"lr": 0.001, "hidden": 512})
    'lr=0.001,hidden=512'
    """
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def grid_then_seeds(grid: list[dict], fit: Callable[[dict, int], dict], seeds, kind: str,
                    log: Callable = print, label: str = "") -> dict:
    """Every grid point on the first seed; the best *validation* point then on the other seeds.

    Returns ``{"chosen": id, "params": {id: params}, "runs": {id: [fit results]},
    "selection": {id: validation score}}``; the test scores play no part in the choice.

    Examples
    --------
    >>> from chmr_sklearn.benchmark import load_split
    >>> from chmr_sklearn.featurize import FingerprintFeaturizer
    >>> d = load_split("freesolv")
    >>> F = FingerprintFeaturizer().fit_transform(d.smiles)
    >>> grid = [{"n_estimators": 10, "min_samples_leaf": 1}, {"n_estimators": 10, "min_samples_leaf": 20}]
    >>> res = grid_then_seeds(grid, lambda p, s: fit_rf(d, F, p, s), [0, 1], d.kind, log=lambda m: None)
    >>> sorted(len(runs) for runs in res["runs"].values())  # the chosen point also ran on seed 1
    [1, 2]
    """
    key, greater = main_metric(kind)
    points = {point_id(p): p for p in grid}
    runs: dict[str, list] = {pid: [] for pid in points}

    def one(pid, seed):
        r = fit(points[pid], seed)
        runs[pid].append(r)
        ep = f", {r['epochs']} ep" if "epochs" in r else ""
        log(f"{label} {pid} seed {seed}: valid {r['valid'][key]:.4f} test {r['test'][key]:.4f} "
            f"({r['fit_seconds']:.1f}s{ep})")

    for pid in points:
        one(pid, seeds[0])
    selection = {pid: runs[pid][0]["valid"][key] for pid in points}
    chosen = (max if greater else min)(selection, key=selection.get)
    for seed in seeds[1:]:
        one(chosen, seed)
    return {"status": "ok", "chosen": chosen, "params": points, "runs": runs, "selection": selection}
