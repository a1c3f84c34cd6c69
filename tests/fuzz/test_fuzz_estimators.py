"""Fuzz CHMRClassifier / CHMRRegressor: labels all NaN, single-class, tiny, duplicated and
invalid rows. Each fit works (one prediction row per input row, NaN exactly at invalid
molecules) or raises one ValueError when the oracle says the data cannot be learned."""

from __future__ import annotations

import numpy as np
import pytest
from _fuzz_strategies import WEHI, budget, expected_valid
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chmr_sklearn import CHMRClassifier, CHMRRegressor, CHMRTransformer
from chmr_sklearn.model_selection import get_scorer

POOL = WEHI[:8] + ["xyz", None, ""]
SLOW = budget(1, minimum=100)


@pytest.fixture(scope="module")
def transformer(tmp_path_factory):
    # the on-disk cache is shared by the estimators' clones: each molecule is embedded once
    return CHMRTransformer(device="cpu", cache_dir=tmp_path_factory.mktemp("emb")).fit(["CCO"])


@st.composite
def problems(draw, kind):
    n = draw(st.integers(1, 10))
    X = draw(st.lists(st.sampled_from(POOL), min_size=n, max_size=n))
    n_tasks = draw(st.sampled_from([0, 1, 2]))  # 0: 1-D y
    shape = (n,) if n_tasks == 0 else (n, n_tasks)
    if kind == "classification":
        values = st.sampled_from([0.0, 1.0, np.nan])
    else:
        values = st.one_of(st.floats(-1e30, 1e30), st.just(np.nan), st.just(np.inf))
    y = draw(hnp.arrays(np.float64, shape, elements=values))
    on_invalid = draw(st.sampled_from(["raise", "nan"]))
    rf = draw(st.booleans())
    return X, y, on_invalid, rf


def _learnable(X, y, on_invalid, kind) -> bool:
    """Oracle: True when fit must succeed, False when it must raise a ValueError."""
    valid = np.array([expected_valid(x) for x in X])
    Y = y[:, None] if y.ndim == 1 else y
    labelled = ~np.isnan(Y)
    if not labelled.any(axis=0).all():  # a task without any label
        return False
    single_task = y.ndim == 1 or y.shape[1] == 1  # a column vector is one task, as in sklearn
    if kind == "classification" and single_task and len(np.unique(Y[labelled[:, 0], 0])) < 2:
        return False  # a single-task classifier needs both classes
    if kind == "regression" and np.isinf(Y).any():
        return False
    if on_invalid == "raise" and not valid.all():
        return False
    return (valid & labelled.any(axis=1)).sum() >= 2


def _check(transformer, problem, kind):
    X, y, on_invalid, rf = problem
    cls = CHMRClassifier if kind == "classification" else CHMRRegressor
    est = cls(transformer=transformer, max_epochs=2, hidden=8, batch_size=8, rf_residual=rf, rf_n_estimators=5,
              on_invalid=on_invalid, device="cpu", random_state=0)
    if not _learnable(X, y, on_invalid, kind):
        with pytest.raises(ValueError):
            est.fit(X, y)
        return
    est.fit(X, y)
    valid = np.array([expected_valid(x) for x in X])
    if kind == "classification":
        out = est.predict_proba(X)
        assert out.shape == ((len(X), 2) if y.ndim == 1 or y.shape[1] == 1 else y.shape)
        labels = est.predict(X)
        assert len(labels) == len(X)
    else:
        out = est.predict(X)
        assert out.shape == y.shape
    rows = out if out.ndim == 2 else out[:, None]
    assert np.isnan(rows[~valid]).all()
    assert np.isfinite(rows[valid]).all()
    if kind == "classification" and out.shape[1] == 2 and (y.ndim == 1 or y.shape[1] == 1):
        np.testing.assert_allclose(rows[valid].sum(axis=1), 1.0)
    # duplicated molecules get the same predictions (to float32 rounding: the head's float32
    # matrix product rounds a row differently depending on its position in the batch)
    for i in np.flatnonzero(valid):
        j = X.index(X[i])
        np.testing.assert_allclose(rows[i], rows[j], rtol=1e-5, atol=1e-6)


@budget(1)
@given(problem=problems("classification"))
def test_classifier_fits_or_raises(transformer, problem):
    _check(transformer, problem, "classification")


@budget(1)
@given(problem=problems("regression"))
def test_regressor_fits_or_raises(transformer, problem):
    _check(transformer, problem, "regression")


@pytest.mark.slow
@SLOW
@given(problem=problems("classification"))
def test_classifier_fits_or_raises_long(transformer, problem):
    _check(transformer, problem, "classification")


@pytest.mark.slow
@SLOW
@given(problem=problems("regression"))
def test_regressor_fits_or_raises_long(transformer, problem):
    _check(transformer, problem, "regression")


def test_single_class_fold_in_cross_validation(transformer):
    """A scaffold fold whose training labels hold one class raises the documented error."""
    X = WEHI[:8]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clf = CHMRClassifier(transformer=transformer, max_epochs=1, hidden=8, device="cpu", random_state=0)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X[:4], y[:4])
    fitted = clf.fit(X, y)
    assert 0 <= fitted.score(X[:4], y[:4]) <= 1  # score is accuracy: defined on a one-class fold
    with pytest.raises(ValueError, match="undefined"):
        get_scorer("mean_roc_auc")(fitted, X[:4], y[:4])  # ROC-AUC is not


def test_huge_targets_regression(transformer):
    """Bug found by fuzzing: targets around 1e30 overflowed the float32 target scaling
    (variance -> inf), every scaled target became NaN and fit failed with a misleading error."""
    X = WEHI[:6]
    y = np.array([1e30, -1e30, 3e29, 0.0, 5e29, -2e29])
    reg = CHMRRegressor(transformer=transformer, max_epochs=2, hidden=8, device="cpu", random_state=0,
                        validation_fraction=0.0).fit(X, y)
    assert np.isfinite(reg.y_scale_).all() and reg.y_scale_[0] > 1e29
    assert np.isfinite(reg.predict(X)).all()
