"""Hyperparameter search through joblib's Dask backend gives the default backend's results.

The same code runs on many machines with ``Client("tcp://scheduler:8786")``
(docs/guide/distributed.md); here a local cluster of two worker processes stands in for them.
"""

import joblib
import numpy as np
import pytest
from distributed import Client, get_task_stream
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from chmr_sklearn import CHMRClassifier, CHMRTransformer
from chmr_sklearn.datasets import load_bbbp
from chmr_sklearn.model_selection import get_scorer


@pytest.fixture(scope="module")
def embedded(data_home):
    """Shipped-model embeddings of 90 real BBBP molecules and their labels."""
    X, y = load_bbbp(return_X_y=True, drop_invalid=True)
    idx = np.linspace(0, len(X) - 1, 90).astype(int)
    X, y = X.iloc[idx].reset_index(drop=True), y.iloc[idx].to_numpy()
    return CHMRTransformer().fit(X).transform(X), y


# ~25 s CPU (two worker processes importing torch, two searches): beyond the default budget.
@pytest.mark.slow
def test_grid_search_on_dask_equals_default_backend(embedded):
    E, y = embedded
    head = CHMRClassifier("passthrough", hidden=32, max_epochs=4, patience=None, batch_size=32, rf_residual=False,
                          random_state=0)
    grid = {"lr": [1e-3, 1e-2]}
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    scoring = get_scorer("mean_roc_auc")  # continuous: the two grid points cannot tie by chance
    reference = GridSearchCV(head, grid, cv=cv, scoring=scoring).fit(E, y)

    # Two worker processes with one thread each, as on a cluster (threads would do too: the
    # heads use no process-wide random state, see test_grid_search_in_threads_is_reproducible).
    with Client(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None) as client, \
            get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        searched = GridSearchCV(head, grid, cv=cv, scoring=scoring, n_jobs=-1).fit(E, y)
    assert len({task["worker"] for task in tasks.data}) == 2  # the fits ran on both Dask workers
    assert len(tasks.data) >= 2 * 2

    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(searched.cv_results_[key], reference.cv_results_[key], err_msg=key)
    assert searched.best_params_ == reference.best_params_
    assert np.ptp(reference.cv_results_["mean_test_score"]) > 0  # the grid points differ: a real comparison
    np.testing.assert_array_equal(searched.predict_proba(E), reference.predict_proba(E))
