"""CHMRRegressor on real data (ESOL / Lipophilicity / FreeSolv): units, NaN targets, RF residual."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV

from chmr_sklearn import CHMRRegressor, CHMRTransformer
from chmr_sklearn.datasets import load_esol, load_freesolv
from chmr_sklearn.model_selection import get_scorer, mean_mae

# One head per fit; the default rf_residual="auto" (two heads) is exercised from SMILES in
# test_from_smiles_joblib_and_grid_search and in test_rf_residual_auto.py.
FAST = dict(max_epochs=15, patience=5, hidden=64, batch_size=64, rf_residual=False, random_state=0)


@pytest.fixture(scope="module")
def solubility(data_home):
    """300 ESOL molecules with their FreeSolv-free embedding, computed once."""
    X, y = load_esol(return_X_y=True)
    X, y = X.iloc[:300].reset_index(drop=True), y.iloc[:300].reset_index(drop=True)
    return X, y, CHMRTransformer().fit(X).transform(X)


def test_predictions_are_in_target_units_and_beat_the_mean(solubility):
    X, y, E = solubility
    reg = CHMRRegressor("passthrough", **FAST).fit(E[:240], y[:240])
    pred = reg.predict(E[240:])
    assert pred.shape == (60,)
    baseline = np.abs(y[240:] - y[:240].mean()).mean()
    assert np.abs(pred - y[240:]).mean() < baseline
    assert pred.dtype == np.float64 and reg.predict(E[240:].astype(np.float64)).dtype == np.float64
    assert reg.score(E[240:], y[240:]) == pytest.approx(r2_score(y[240:], pred), rel=1e-6)
    assert reg.score(E[240:], y[240:]) > 0  # R² > 0: better than the mean
    assert get_scorer("neg_mean_mae")(reg, E[240:], y[240:]) == pytest.approx(-mean_mae(y[240:].to_numpy(), pred))
    assert reg.monitor_ == "valid_mae"


def test_multi_output_with_missing_targets(solubility):
    X, y, E = solubility
    Y = pd.DataFrame({"logS": y, "logS_x2": 2 * y})
    Y.iloc[::3, 0] = np.nan
    Y.iloc[1::3, 1] = np.nan
    reg = CHMRRegressor("passthrough", **FAST).fit(E, Y)
    pred = reg.predict(E)
    assert pred.shape == (300, 2) and np.isfinite(pred).all()
    # the second task lives on twice the scale: the per-task standardization must undo it
    assert pred[:, 1].std() > 1.5 * pred[:, 0].std()
    with pytest.raises(ValueError, match="no target value"):
        CHMRRegressor("passthrough", **FAST).fit(E, Y.assign(empty=np.nan))
    # score: each task's R² over its labelled rows, averaged
    Yn = Y.to_numpy()
    r2 = [r2_score(Yn[~np.isnan(Yn[:, t]), t], pred[~np.isnan(Yn[:, t]), t]) for t in range(2)]
    assert reg.score(E, Y) == pytest.approx(np.mean(r2))


def test_rf_residual_regression(solubility):
    X, y, E = solubility
    reg = CHMRRegressor("passthrough", **dict(FAST, rf_residual=True, gamma=0.0, rf_n_estimators=50)).fit(E, y)
    # gamma = 0: the prediction is the mean of the heads' forests' predictions
    forests = [h.rf.forests_[0].predict(E[:10]) for h in reg.heads_]
    assert len(forests) == 2 and np.abs(forests[0] - forests[1]).max() > 1e-3
    np.testing.assert_allclose(reg.predict(E[:10]), np.mean(forests, axis=0), rtol=1e-4, atol=1e-4)


def test_from_smiles_joblib_and_grid_search(data_home, tmp_path):
    X, y = load_freesolv(return_X_y=True)
    X, y = X.iloc[:200], y.iloc[:200]
    reg = CHMRRegressor(**dict(FAST, rf_residual="auto", rf_n_estimators=20))
    search = GridSearchCV(reg, {"loss": ["l1", "mse"]}, scoring=get_scorer("neg_mean_mae"), cv=2)
    search.fit(X, y)
    assert search.best_score_ < 0
    assert sorted(search.best_estimator_.rf_residual_scores_) == [False, True]  # "auto", on a scaffold split
    path = tmp_path / "reg.joblib"
    joblib.dump(search.best_estimator_, path)
    # the unpickled copy re-embeds X[:15] in a pass of its own size: equal within float32 rounding
    np.testing.assert_allclose(joblib.load(path).predict(X[:15]), search.best_estimator_.predict(X[:15]),
                               rtol=1e-5, atol=1e-6)
    same = clone(search.best_estimator_).fit(X, y)
    np.testing.assert_array_equal(same.predict(X[:15]), search.best_estimator_.predict(X[:15]))


def test_bad_targets(solubility):
    X, y, E = solubility
    with pytest.raises(ValueError, match="numeric"):
        CHMRRegressor("passthrough", **FAST).fit(E[:3], ["a", "b", "c"])
    with pytest.raises(ValueError, match="inf"):
        CHMRRegressor("passthrough", **FAST).fit(E[:3], [1.0, np.inf, 2.0])
    with pytest.raises(ValueError, match="no target value"):
        CHMRRegressor("passthrough", **FAST).fit(E[:3], [np.nan] * 3)
