"""Real labelled data for the estimator tests: ChEMBL2K (multi-task, NaN) and BBBP subsets."""

import numpy as np
import pytest

from chmr_sklearn.datasets import load_bbbp, load_chembl2k


@pytest.fixture(scope="session")
def chembl(data_home):
    """400 ChEMBL2K molecules and the 8 tasks with the most labels among them (NaN kept)."""
    X, Y = load_chembl2k(return_X_y=True)
    X, Y = X.iloc[:400].reset_index(drop=True), Y.iloc[:400].reset_index(drop=True)
    both = [c for c in Y.columns if Y[c].nunique() == 2]
    tasks = Y[both].notna().sum().sort_values(ascending=False).index[:8]
    return X, Y[tasks]


@pytest.fixture(scope="session")
def bbbp(data_home):
    X, y = load_bbbp(return_X_y=True, drop_invalid=True)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(X), size=300, replace=False))
    return X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)


@pytest.fixture(scope="session")
def embeddings(chembl, bbbp):
    """Shipped-model embeddings of both subsets, computed once for the head-only tests."""
    from chmr_sklearn import CHMRTransformer

    t = CHMRTransformer().fit(chembl[0])
    return {"chembl": t.transform(chembl[0]), "bbbp": t.transform(bbbp[0])}
