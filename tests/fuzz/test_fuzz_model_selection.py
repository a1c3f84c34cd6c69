"""Fuzz scaffold_split / scaffold_groups and the NaN-aware metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _fuzz_strategies import batches, budget, expected_valid
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import roc_auc_score

from chmr_sklearn.model_selection import (
    mean_mae,
    mean_rmse,
    mean_roc_auc,
    roc_auc_per_task,
    scaffold_groups,
    scaffold_split,
)

SLOW = budget(1, minimum=200)
_SIZES = st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.34, 0.33, 0.33)])


def _check_split(batch, sizes, method, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the invalid-entries warning
        groups = scaffold_groups(batch)
        parts = scaffold_split(batch, sizes, method=method, random_state=seed)
        again = scaffold_split(batch, sizes, method=method, random_state=seed)
    n = len(batch)
    assert groups.shape == (n,)
    # a partition of 0..n-1: every row exactly once, each part sorted
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))
    for part, same in zip(parts, again):
        assert np.all(np.diff(part) > 0)
        np.testing.assert_array_equal(part, same)
    if method == "ogb":  # whole groups: no scaffold straddles two parts
        where = np.empty(n, dtype=int)
        for k, part in enumerate(parts):
            where[part] = k
        for g in np.unique(groups):
            assert len(set(where[groups == g])) == 1
    # identical valid SMILES share a group; an invalid entry never shares one with a valid one
    valid = np.array([expected_valid(e) for e in batch])
    for i in range(n):
        for j in range(i + 1, n):
            if groups[i] == groups[j]:
                assert valid[i] == valid[j]
            if valid[i] and isinstance(batch[i], str) and batch[i] == batch[j]:
                assert groups[i] == groups[j]


@budget(1)
@given(batch=batches(max_size=10), sizes=_SIZES, method=st.sampled_from(["ogb", "random_groups"]),
       seed=st.integers(0, 2**31 - 1))
def test_scaffold_split_partitions_every_row(batch, sizes, method, seed):
    _check_split(batch, sizes, method, seed)


@pytest.mark.slow
@SLOW
@given(batch=batches(max_size=30), sizes=_SIZES, method=st.sampled_from(["ogb", "random_groups"]),
       seed=st.integers(0, 2**31 - 1))
def test_scaffold_split_partitions_every_row_long(batch, sizes, method, seed):
    _check_split(batch, sizes, method, seed)


def test_scaffold_split_empty_and_single():
    with pytest.raises(ValueError, match="0 molecules"):
        scaffold_split([])
    assert [p.tolist() for p in scaffold_split(["CCO"])] == [[], [], [0]]  # 1 > 0.8 * 1: OGB rule
    assert [len(p) for p in scaffold_split(["c1ccccc1O"] * 5, (0.6, 0.2, 0.2))] == [0, 0, 5]


# ---------------------------------------------------------------------------- metrics

_label = st.sampled_from([0.0, 1.0, np.nan])
_score = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf]))


@st.composite
def labelled(draw, values):
    n = draw(st.integers(1, 12))
    t = draw(st.integers(1, 3))
    y = draw(hnp.arrays(np.float64, (n, t), elements=values))
    s = draw(hnp.arrays(np.float64, (n, t), elements=_score))
    return y, s


def _auc_oracle(y, s):
    out = []
    for t in range(y.shape[1]):
        m = ~np.isnan(y[:, t])
        if len(np.unique(y[m, t])) < 2:
            continue
        if not np.isfinite(s[m, t]).all():
            return "error"
        out.append(roc_auc_score(y[m, t], s[m, t]))
    return "error" if not out else float(np.mean(out))


@budget(5)
@given(data=labelled(_label))
def test_mean_roc_auc_matches_sklearn_or_raises(data):
    y, s = data
    expected = _auc_oracle(y, s)
    if expected == "error":
        with pytest.raises(ValueError):
            mean_roc_auc(y, s)
        return
    assert mean_roc_auc(y, s) == pytest.approx(expected)
    assert roc_auc_per_task(y, s).shape == (y.shape[1],)
    if y.shape[1] == 1:  # 1-D and predict_proba-shaped inputs give the same number
        assert mean_roc_auc(y[:, 0], np.column_stack([1 - s[:, 0], s[:, 0]])) == pytest.approx(expected)


@budget(5)
@given(data=labelled(st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))))
def test_mean_mae_rmse_match_numpy_or_raise(data):
    y, s = data
    errors, sq = [], []
    broken = False
    for t in range(y.shape[1]):
        m = ~np.isnan(y[:, t])
        if not m.any():
            continue
        if not np.isfinite(s[m, t]).all():
            broken = True
        d = s[m, t] - y[m, t]
        errors.append(np.mean(np.abs(d)))
        sq.append(np.sqrt(np.mean(d ** 2)))
    if broken or not errors:
        for metric in (mean_mae, mean_rmse):
            with pytest.raises(ValueError):
                metric(y, s)
        return
    assert mean_mae(y, s) == pytest.approx(np.mean(errors))
    assert mean_rmse(y, s) == pytest.approx(np.mean(sq))


@pytest.mark.parametrize("scores", [[1j, 2j], ["a", "b"], [[0.1], [0.2, 0.3]]], ids=["complex", "text", "ragged"])
def test_non_numeric_scores_raise_valueerror_regression(scores):
    """Bug found by fuzzing: complex scores raised TypeError from numpy."""
    with pytest.raises(ValueError, match="real numbers|shape"):
        mean_roc_auc([0, 1], scores)
    with pytest.raises(ValueError):
        mean_mae([0.0, 1.0], scores)


def test_infinite_regression_label_raises_regression():
    """Bug found by fuzzing: an inf target gave an MAE of inf instead of an error."""
    with pytest.raises(ValueError, match="inf"):
        mean_mae([np.inf, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="inf"):
        mean_rmse([[1.0, -np.inf]], [[1.0, 1.0]])
    assert mean_mae([np.nan, 1.0], [5.0, 1.5]) == 0.5


def test_empty_and_all_missing_labels_raise():
    for metric in (mean_roc_auc, mean_mae, mean_rmse):
        with pytest.raises(ValueError):
            metric([], [])
        with pytest.raises(ValueError):
            metric([np.nan, np.nan], [0.2, 0.8])
