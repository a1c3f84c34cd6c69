"""NaN-aware metrics and scorers: hand-computed values, NaN handling, sklearn integration."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from chmr_sklearn.model_selection import (
    get_scorer,
    mean_mae,
    mean_rmse,
    mean_roc_auc,
    neg_mae_scorer,
    neg_rmse_scorer,
    roc_auc_per_task,
    roc_auc_scorer,
)
from chmr_sklearn.model_selection import _metrics

nan = float("nan")


# ---------------------------------------------------------------- ROC-AUC by hand


def test_single_task_auc_by_hand():
    # positives {0.8, 0.4}, negatives {0.3, 0.6}: of the 4 pos/neg pairs, 3 are ordered
    # correctly (0.8>0.3, 0.8>0.6, 0.4>0.3) -> AUC 3/4
    y = [1, 0, 1, 0]
    s = [0.8, 0.3, 0.4, 0.6]
    assert mean_roc_auc(y, s) == 0.75
    # a tie between a positive and a negative counts 1/2: pairs (0.5 vs 0.5) -> 0.5
    assert mean_roc_auc([1, 0], [0.5, 0.5]) == 0.5


def test_nan_labels_are_ignored_per_task():
    # task 0: rows 0, 1, 3 labelled -> pos {0.9, 0.2} vs neg {0.5}: 1 of 2 pairs -> 0.5
    # task 1: rows 1, 2, 3 labelled -> pos {0.7} vs neg {0.1, 0.3}: 2 of 2 -> 1.0
    y = [[1, nan], [0, 1], [nan, 0], [1, 0]]
    s = [[0.9, 0.99], [0.5, 0.7], [0.0, 0.1], [0.2, 0.3]]
    np.testing.assert_allclose(roc_auc_per_task(y, s), [0.5, 1.0])
    assert mean_roc_auc(y, s) == 0.75
    # the score under a missing label is never looked at, even NaN
    s_nan = [[0.9, nan], [0.5, 0.7], [nan, 0.1], [0.2, 0.3]]
    assert mean_roc_auc(y, s_nan) == 0.75


def test_single_class_task_is_skipped():
    # task 1 has only negatives among labelled rows -> undefined, left out of the mean
    y = np.array([[1, 0], [0, 0], [1, nan]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.5]])
    per = roc_auc_per_task(y, s)
    assert per[0] == 1.0 and math.isnan(per[1])
    assert mean_roc_auc(y, s) == 1.0


def test_no_task_qualifies_raises():
    with pytest.raises(ValueError, match="no task has both classes"):
        mean_roc_auc([[1, nan], [1, 0], [nan, 0]], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no task has both classes"):
        mean_roc_auc([nan, nan], [0.1, 0.2])


def test_predict_proba_shapes():
    y = [1, 0, 1, 0]
    p1 = np.array([0.8, 0.3, 0.4, 0.6])
    proba = np.column_stack([1 - p1, p1])  # single-task predict_proba (n, 2)
    assert mean_roc_auc(y, proba) == 0.75
    assert mean_roc_auc(np.array(y)[:, None], proba) == 0.75  # y as (n, 1)
    assert mean_roc_auc(y, p1[:, None]) == 0.75
    # two tasks: (n, 2) means one score per task, not a predict_proba
    y2 = np.column_stack([y, [0, 1, 0, 1]])
    np.testing.assert_allclose(roc_auc_per_task(y2, np.column_stack([p1, p1])), [0.75, 0.25])
    # list of per-task (n, 2) arrays, as multi-output forests return
    listed = [np.column_stack([1 - p1, p1]), np.column_stack([p1, 1 - p1])]
    np.testing.assert_allclose(roc_auc_per_task(y2, listed), [0.75, 0.75])


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match="do not match"):
        mean_roc_auc([[1, 0], [0, 1]], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="do not match"):
        mean_roc_auc([1, 0, 1], np.ones((3, 3)))
    with pytest.raises(ValueError, match="labels 0/1"):
        mean_roc_auc([2, 0, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="task 0 contain NaN"):
        mean_roc_auc([1, 0, 1], [0.1, nan, 0.3])
    with pytest.raises(ValueError, match="numeric"):
        mean_roc_auc(["a", "b"], [0.1, 0.2])


# ---------------------------------------------------------------- regression by hand


def test_mae_rmse_by_hand():
    # task 0: errors 1, -3 (row 2 missing)   -> MAE 2,  RMSE sqrt((1 + 9) / 2) = sqrt(5)
    # task 1: errors 4 (rows 1, 2 missing)   -> MAE 4,  RMSE 4
    y = [[0.0, 1.0], [0.0, nan], [nan, nan]]
    p = [[1.0, 5.0], [-3.0, 0.0], [100.0, 100.0]]
    assert mean_mae(y, p) == 3.0
    assert mean_rmse(y, p) == pytest.approx((math.sqrt(5) + 4) / 2)
    # 1-D
    assert mean_mae([1.0, 2.0, nan], [2.0, 0.0, 7.0]) == 1.5
    assert mean_rmse([1.0, 2.0, nan], [2.0, 0.0, 7.0]) == pytest.approx(math.sqrt(2.5))
    # a task without any label is skipped, not counted as zero error
    assert mean_mae([[1.0, nan], [3.0, nan]], [[2.0, 0.0], [3.0, 0.0]]) == 0.5


def test_regression_errors():
    with pytest.raises(ValueError, match="No labelled entry"):
        mean_mae([nan, nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        mean_rmse([1.0, 2.0], [1.0, nan])
    with pytest.raises(ValueError, match="do not match"):
        mean_mae([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]])


# ---------------------------------------------------------------- scorers


class _FixedProba(ClassifierMixin, BaseEstimator):
    """Accepts NaN labels (like CHMRClassifier) and returns fixed multi-task probabilities."""

    def fit(self, X, y):
        self.classes_ = [np.array([0.0, 1.0])] * np.shape(y)[1]  # multi-output convention
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        return np.column_stack([X[:, 0], 1 - X[:, 0]])


def test_roc_auc_scorer_multitask_with_nan_labels():
    X = np.array([[0.9], [0.5], [0.0], [0.2]])
    y = np.array([[1, nan], [0, 1], [nan, 0], [1, 0]])
    est = _FixedProba().fit(X, y)
    # task 0 scores X: pos {0.9, 0.2} vs neg {0.5} -> 0.5 ; task 1 scores 1 - X:
    # pos {0.5} vs neg {1.0, 0.8} -> 0  => mean 0.25
    assert roc_auc_scorer(est, X, y) == 0.25
    assert get_scorer("mean_roc_auc")(est, X, y) == 0.25


def test_roc_auc_scorer_in_cross_validate_binary():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    cv = KFold(3, shuffle=True, random_state=0)
    ours = cross_validate(LogisticRegression(), X, y, cv=cv, scoring=roc_auc_scorer)["test_score"]
    ref = cross_validate(LogisticRegression(), X, y, cv=cv, scoring="roc_auc")["test_score"]
    np.testing.assert_allclose(ours, ref)


def test_roc_auc_scorer_multioutput_forest():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int)
    rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:60], y[:60])
    proba = rf.predict_proba(X[60:])  # list of two (20, 2) arrays
    assert roc_auc_scorer(rf, X[60:], y[60:]) == pytest.approx(mean_roc_auc(y[60:], proba))


def test_grid_search_with_scorer_names():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    gs = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, scoring=get_scorer("mean_roc_auc"), cv=2)
    assert 0.5 < gs.fit(X, y).best_score_ <= 1.0


class _Constant(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.full(len(X), 1.0)


def test_regression_scorers_are_negated():
    X = np.zeros((3, 1))
    y = np.array([0.0, 3.0, nan])  # errors 1 and 2 on the labelled rows
    est = _Constant().fit(X, y)
    assert neg_mae_scorer(est, X, y) == -1.5
    assert neg_rmse_scorer(est, X, y) == pytest.approx(-math.sqrt(2.5))
    assert get_scorer("neg_mean_mae")(est, X, y) == -1.5
    assert get_scorer("neg_mean_rmse")(est, X, y) == pytest.approx(-math.sqrt(2.5))
    scores = cross_validate(LinearRegression(), np.arange(12.0)[:, None], np.arange(12.0) * 2,
                            cv=3, scoring=get_scorer("neg_mean_mae"))["test_score"]
    np.testing.assert_allclose(scores, 0, atol=1e-9)


def test_get_scorer_unknown_and_copies():
    with pytest.raises(ValueError, match="Unknown scorer"):
        get_scorer("roc_auc")
    assert get_scorer("mean_roc_auc") is not roc_auc_scorer


def test_docstring_examples():
    result = doctest.testmod(_metrics)
    assert result.failed == 0 and result.attempted > 0
