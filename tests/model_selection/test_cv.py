"""MultiTaskStratifiedKFold on ChEMBL2K (41 assays, 83 % of labels missing): balanced folds,
scaffold groups kept whole, and GridSearchCV / cross_validate with NaN multi-task labels."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from chmr_sklearn import CHMRClassifier
from chmr_sklearn.datasets import load_chembl2k
from chmr_sklearn.featurize import FingerprintFeaturizer
from chmr_sklearn.model_selection import MultiTaskStratifiedKFold, get_scorer, scaffold_groups


@pytest.fixture(scope="module")
def chembl2k(data_home):
    X, Y = load_chembl2k(return_X_y=True)
    return X, Y, scaffold_groups(X)


def _worst_share_deviation(Y: np.ndarray, splits) -> float:
    """Largest |share of a task's positives (or negatives) in a test fold - 1/k| over tasks with >= 3k."""
    k, worst = len(splits), 0.0
    for t in range(Y.shape[1]):
        for members in (Y[:, t] == 1, Y[:, t] == 0):
            if members.sum() >= 3 * k:
                shares = np.array([members[test].sum() for _, test in splits]) / members.sum()
                worst = max(worst, float(np.abs(shares - 1 / k).max()))
    return worst


def test_folds_balance_every_task_and_keep_scaffolds_whole(chembl2k):
    X, Y, groups = chembl2k
    Yn = Y.to_numpy()
    for g in (None, groups):
        splits = list(MultiTaskStratifiedKFold(3).split(X, Y, groups=g))
        tests = np.concatenate([test for _, test in splits])
        assert np.array_equal(np.sort(tests), np.arange(len(X)))  # a partition of the rows
        for train, test in splits:
            assert not np.intersect1d(train, test).size
        assert max(len(t) for _, t in splits) - min(len(t) for _, t in splits) <= 0.01 * len(X)
        # every task's classes spread evenly: within 10 points of 1/3, where KFold is off by ~30
        assert _worst_share_deviation(Yn, splits) < 0.1
    assert _worst_share_deviation(Yn, list(KFold(3, shuffle=True, random_state=0).split(X))) > 0.2
    fold_of = np.empty(len(X), dtype=int)
    for f, (_, test) in enumerate(MultiTaskStratifiedKFold(3).split(X, Y, groups=groups)):
        fold_of[test] = f
    assert all(len(set(fold_of[groups == g])) == 1 for g in np.unique(groups))  # no scaffold on both sides


def test_shuffle_is_seeded(chembl2k):
    X, Y, groups = chembl2k

    def folds(**kw):
        return [test.tolist() for _, test in MultiTaskStratifiedKFold(3, **kw).split(X, Y, groups=groups)]

    assert folds(shuffle=True, random_state=1) == folds(shuffle=True, random_state=1)
    assert folds(shuffle=True, random_state=1) != folds(shuffle=True, random_state=2)
    with pytest.raises(ValueError, match="greater than the number of groups: 2"):
        list(MultiTaskStratifiedKFold(3).split(X[:4], Y[:4], groups=[0, 0, 1, 1]))


def test_grid_search_and_cross_validate_with_nan_labels(chembl2k):
    X, Y, groups = chembl2k
    X, Y, groups = X[:600], Y.iloc[:600], groups[:600]
    Y = Y.loc[:, Y.notna().sum() >= 30]  # tasks with enough labels among these rows
    E = FingerprintFeaturizer().fit_transform(list(X)).astype(np.float32)
    clf = CHMRClassifier("passthrough", max_epochs=4, hidden=32, patience=None, rf_residual=False, random_state=0)
    # scikit-learn's integer cv calls type_of_target(y), which rejects NaN before the estimator runs
    with pytest.raises(ValueError, match="Input y contains NaN"):
        GridSearchCV(clf, {"lr": [1e-3]}, cv=3).fit(E, Y)
    cv = MultiTaskStratifiedKFold(3)
    search = GridSearchCV(clf, {"lr": [1e-3, 1e-2]}, cv=cv, scoring=get_scorer("mean_roc_auc"),
                          error_score="raise").fit(E, Y, groups=groups)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all() and 0.5 < search.best_score_ <= 1
    scores = cross_validate(clf, E, Y, groups=groups, cv=cv, error_score="raise",
                            scoring={"roc_auc": get_scorer("mean_roc_auc")})
    assert ((scores["test_roc_auc"] > 0.5) & (scores["test_roc_auc"] <= 1)).all()
    default = cross_validate(clf, E, Y, groups=groups, cv=cv, error_score="raise")  # score: NaN-aware accuracy
    assert ((default["test_score"] > 0.5) & (default["test_score"] <= 1)).all()
