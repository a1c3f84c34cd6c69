"""NaN-aware multi-task metrics and scorers (benchmark protocol: mean over tasks).

Labels may be missing (NaN): every metric uses, task by task, only the labelled rows, then
averages over tasks. ROC-AUC skips a task whose labelled rows hold a single class (undefined),
exactly as OGB / InfoAlign / CHMR evaluate. Predictions must be finite wherever a label exists.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
from sklearn.metrics import make_scorer, roc_auc_score

__all__ = [
    "get_scorer",
    "mean_accuracy",
    "mean_mae",
    "mean_r2",
    "mean_rmse",
    "mean_roc_auc",
    "neg_mae_scorer",
    "neg_rmse_scorer",
    "roc_auc_per_task",
    "roc_auc_scorer",
]


def _labels_2d(y_true: Any) -> np.ndarray:
    try:
        y = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("y_true must be numeric (NaN marks a missing label).") from None
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"y_true must be 1-D or 2-D and non-empty, got shape {y.shape}.")
    return y


def _scores_2d(y_score: Any, y: np.ndarray, *, proba: bool) -> np.ndarray:
    """Predictions as (n, T) floats; understands predict_proba's (n, 2) and list outputs."""
    n, n_tasks = y.shape
    if (
        isinstance(y_score, list)
        and len(y_score) == n_tasks > 1
        and all(isinstance(a, np.ndarray) and a.ndim == 2 and a.shape == (n, 2) for a in y_score)
    ):
        # multi-output predict_proba of sklearn forests / kNN: one (n, 2) array per task
        s = np.column_stack([np.asarray(a[:, 1], dtype=np.float64) for a in y_score])
    else:
        try:
            s = np.asarray(y_score, dtype=np.float64)
        except (TypeError, ValueError):  # e.g. complex or text scores: one clear ValueError
            raise ValueError("Predictions must be real numbers.") from None
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim == 2 and proba and n_tasks == 1 and s.shape[1] == 2:
        s = s[:, 1:]  # single-task predict_proba: probability of class 1
    if s.shape != (n, n_tasks):
        raise ValueError(
            f"Predictions of shape {np.shape(y_score)} do not match y_true of shape "
            f"{(n, n_tasks) if n_tasks > 1 else (n,)}"
            + (" (single-task predict_proba output (n, 2) is also accepted)." if proba else ".")
        )
    return s


def _check_finite(scores: np.ndarray, labelled: np.ndarray, task: int) -> None:
    if not np.all(np.isfinite(scores[labelled])):
        raise ValueError(
            f"Predictions for task {task} contain NaN or inf where a label exists; metrics "
            "cannot be computed (were some molecules invalid?)."
        )


def roc_auc_per_task(y_true: Any, y_score: Any) -> np.ndarray:
    """ROC-AUC of every task over its labelled rows; NaN where it is undefined.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Binary labels 0/1; NaN = missing.
    y_score : array-like of shape (n_samples,), (n_samples, n_tasks), or (n_samples, 2)
        Scores or probabilities of class 1. A single-task ``predict_proba`` output (n, 2) and
        a list of per-task (n, 2) arrays (multi-output forests) are understood.

    Returns
    -------
    auc : ndarray of shape (n_tasks,)
        NaN for a task whose labelled rows do not contain both classes.

    Examples
    --------
    >>> roc_auc_per_task([[1, 0], [0, 0], [1, float("nan")]], [[0.9, 0.1], [0.2, 0.3], [0.6, 0.5]])
    array([ 1., nan])
    """
    y = _labels_2d(y_true)
    s = _scores_2d(y_score, y, proba=True)
    out = np.full(y.shape[1], np.nan)
    for t in range(y.shape[1]):
        labelled = ~np.isnan(y[:, t])
        labels = y[labelled, t]
        if labels.size and not np.all((labels == 0) | (labels == 1)):
            raise ValueError(
                f"ROC-AUC needs labels 0/1 (NaN = missing); task {t} has "
                f"{np.unique(labels)[:5].tolist()}."
            )
        if np.unique(labels).size < 2:
            continue
        _check_finite(s[:, t], labelled, t)
        out[t] = roc_auc_score(labels, s[labelled, t])
    return out


def mean_roc_auc(y_true: Any, y_score: Any) -> float:
    """Mean ROC-AUC over the tasks that have both classes among their labelled rows.

    NaN labels are ignored task by task; a task with a single labelled class is skipped (as in
    OGB's and InfoAlign's evaluators).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Binary labels 0/1; NaN = missing.
    y_score : array-like of shape (n_samples,), (n_samples, n_tasks), or (n_samples, 2)
        Scores or probabilities of class 1 (see :func:`roc_auc_per_task`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        No task has both classes; labels other than 0/1; shapes disagree; a prediction is NaN
        where a label exists.

    Examples
    --------
    Task 0 ranks its 2 positives above its negative (AUC 1); task 1 has one positive ranked
    below one of its two negatives (AUC 0.5); task 2 has a single labelled class (skipped):

    >>> nan = float("nan")
    >>> y = [[1, 0, 1], [0, 1, nan], [1, 0, 1]]
    >>> s = [[0.8, 0.3, 0.5], [0.1, 0.4, 0.5], [0.7, 0.6, 0.5]]
    >>> mean_roc_auc(y, s)
    0.75
    """
    per_task = roc_auc_per_task(y_true, y_score)
    if np.all(np.isnan(per_task)):
        raise ValueError(
            "ROC-AUC is undefined: no task has both classes among its labelled rows."
        )
    return float(np.nanmean(per_task))


def _per_task_regression(y_true: Any, y_pred: Any, error: Callable[[np.ndarray], float]) -> float:
    y = _labels_2d(y_true)
    if np.isinf(y).any():  # an infinite target made the error silently inf
        raise ValueError("y_true contains inf; targets must be finite (NaN marks a missing one).")
    p = _scores_2d(y_pred, y, proba=False)
    values = []
    for t in range(y.shape[1]):
        labelled = ~np.isnan(y[:, t])
        if not labelled.any():
            continue
        _check_finite(p[:, t], labelled, t)
        values.append(error(p[labelled, t] - y[labelled, t]))
    if not values:
        raise ValueError("No labelled entry in y_true: the error is undefined.")
    return float(np.mean(values))


def mean_mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error per task over labelled entries, averaged over tasks.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets; NaN = missing.
    y_pred : array-like of the same shape
        Predictions.

    Returns
    -------
    float

    Examples
    --------
    Task 0 errors 1 and 3 (MAE 2); task 1 one labelled error of 4 (MAE 4); mean 3:

    >>> mean_mae([[0.0, 1.0], [0.0, float("nan")]], [[1.0, 5.0], [-3.0, 0.0]])
    3.0
    """
    return _per_task_regression(y_true, y_pred, lambda e: float(np.mean(np.abs(e))))


def mean_rmse(y_true: Any, y_pred: Any) -> float:
    """Root-mean-squared error per task over labelled entries, averaged over tasks.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets; NaN = missing.
    y_pred : array-like of the same shape
        Predictions.

    Returns
    -------
    float

    Examples
    --------
    Task 0 errors 3 and 4 (RMSE sqrt(12.5)); task 1 one error of 2 (RMSE 2):

    >>> round(mean_rmse([[0.0, 0.0], [0.0, float("nan")]], [[3.0, 2.0], [4.0, 9.0]]), 6)
    2.767767
    """
    return _per_task_regression(y_true, y_pred, lambda e: float(np.sqrt(np.mean(e ** 2))))


def _weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n},).")
    return w


def mean_accuracy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Accuracy per task over its labelled rows, averaged over tasks (NaN = missing label).

    With one task and no missing label this is ``sklearn.metrics.accuracy_score``. It is
    what :meth:`CHMRClassifier.score` returns.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Labels; NaN = missing.
    y_pred : array-like of the same shape
        Predicted labels.
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float

    Examples
    --------
    Task 0: 2 of 3 right; task 1: its one labelled row right; mean (2/3 + 1) / 2:

    >>> nan = float("nan")
    >>> round(mean_accuracy([[1, 0], [0, nan], [1, nan]], [[1, 0], [1, 1], [1, 1]]), 4)
    0.8333
    """
    y = _labels_2d(y_true)
    p = _scores_2d(y_pred, y, proba=False)
    w = _weights(sample_weight, len(y))
    values = []
    for t in range(y.shape[1]):
        labelled = ~np.isnan(y[:, t])
        if not labelled.any() or w[labelled].sum() == 0:
            continue
        _check_finite(p[:, t], labelled, t)
        values.append(np.average(p[labelled, t] == y[labelled, t], weights=w[labelled]))
    if not values:
        raise ValueError("No labelled entry in y_true: the accuracy is undefined.")
    return float(np.mean(values))


def mean_r2(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """R² per task over its labelled rows, averaged over tasks (NaN = missing target).

    With no missing target this is ``sklearn.metrics.r2_score`` (``"uniform_average"``);
    a task whose labelled targets are constant scores 1.0 if predicted exactly, else 0.0,
    as ``r2_score`` does. It is what :meth:`CHMRRegressor.score` returns.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets; NaN = missing.
    y_pred : array-like of the same shape
        Predictions.
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float

    Examples
    --------
    >>> mean_r2([[1.0, 2.0], [2.0, float("nan")], [3.0, 4.0]], [[1.0, 2.0], [2.0, 0.0], [4.0, 5.0]])
    0.5
    """
    from sklearn.metrics import r2_score

    y = _labels_2d(y_true)
    if np.isinf(y).any():
        raise ValueError("y_true contains inf; targets must be finite (NaN marks a missing one).")
    p = _scores_2d(y_pred, y, proba=False)
    w = _weights(sample_weight, len(y))
    values = []
    for t in range(y.shape[1]):
        labelled = ~np.isnan(y[:, t])
        if labelled.sum() < 2:  # R² of fewer than two samples is undefined (sklearn warns, gives NaN)
            continue
        _check_finite(p[:, t], labelled, t)
        values.append(r2_score(y[labelled, t], p[labelled, t], sample_weight=w[labelled]))
    if not values:
        raise ValueError("R² is undefined: no task has two labelled entries in y_true.")
    return float(np.mean(values))


roc_auc_scorer = make_scorer(
    mean_roc_auc, response_method=("predict_proba", "decision_function")
)
roc_auc_scorer.__doc__ = "Scorer: mean ROC-AUC over tasks (NaN-aware); uses predict_proba."
neg_mae_scorer = make_scorer(mean_mae, greater_is_better=False)
neg_rmse_scorer = make_scorer(mean_rmse, greater_is_better=False)

_SCORERS = {
    "mean_roc_auc": roc_auc_scorer,
    "neg_mean_mae": neg_mae_scorer,
    "neg_mean_rmse": neg_rmse_scorer,
}


def get_scorer(name: str):
    """Return a copy of a NaN-aware scorer by name, for ``GridSearchCV(scoring=...)``.

    Parameters
    ----------
    name : {"mean_roc_auc", "neg_mean_mae", "neg_mean_rmse"}

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y)``
        Greater is better (errors are negated).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> get_scorer("mean_roc_auc")(LogisticRegression().fit(X, y), X, y)
    1.0
    """
    if name not in _SCORERS:
        raise ValueError(
            f"Unknown scorer {name!r}; choose from {sorted(_SCORERS)} (for scikit-learn's own "
            "scorers use sklearn.metrics.get_scorer)."
        )
    return copy.deepcopy(_SCORERS[name])
