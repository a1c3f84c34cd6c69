"""benchmarks/cell_awareness_ceiling.py on real L1000 profiles (a slice, small grids)."""

import numpy as np
import pytest
from _scripts import load_script

from chmr_sklearn.benchmark._cell_awareness import heldout_split, load_cell_profiles, predict_baselines, profile_metrics
from chmr_sklearn.featurize import FingerprintFeaturizer


@pytest.fixture(scope="module")
def ceiling():
    return load_script("benchmarks/cell_awareness_ceiling.py")


@pytest.fixture(scope="module")
def expression(data_home):
    table = load_cell_profiles(data_home)["expression"].iloc[:160, :21]  # 160 compounds x 20 genes
    smiles = table["smiles"].tolist()
    x = FingerprintFeaturizer().fit_transform(smiles).astype(np.float64)
    return x, table.drop(columns=["smiles"]).to_numpy(np.float64), smiles


def test_knn_is_the_harness_baseline(ceiling, expression):
    x, y, smiles = expression
    tr, te = heldout_split(smiles, 0)
    ours = ceiling.knn(10)(x[tr], y[tr], x[te], 0)
    np.testing.assert_allclose(ours, predict_baselines(x[tr], y[tr], x[te])["tanimoto_knn"], rtol=1e-5)


def test_cross_validation_sees_only_training_compounds(ceiling, expression):
    x, y, smiles = expression
    tr, te = heldout_split(smiles, 1)
    seen = []

    def make(k):
        def fit_predict(xtr, ytr, xte, seed):
            seen.append(len(xtr) + len(xte))
            return ceiling.knn(k)(xtr, ytr, xte, seed)
        return fit_predict

    groups = np.arange(len(tr)) % 7
    value, scores = ceiling.cv_choose(make, (1, 20), x[tr], y[tr], groups, 0)
    assert set(seen) == {len(tr)} and len(seen) == 10  # 2 values x 5 folds, never a held-out row
    assert str(value) == max(scores, key=scores.get)  # the best mean fold score wins
    assert all(-1.0 <= s <= 1.0 for s in scores.values())


def test_run_seed_scores_every_model_and_reproduces_the_harness_knn(ceiling, expression):
    x, y, smiles = expression
    out = ceiling.run_seed(x, y, smiles, 0, ceiling.QUICK_GRIDS, log=lambda m: None)
    tr, te = heldout_split(smiles, 0)
    assert out["n_test"] == len(te)
    assert len(out["metrics"]) == 7
    for name, m in out["metrics"].items():
        assert np.isfinite(m["pearson_centred"]) and 0.0 < m["mrr"] <= 1.0, name
    knn = predict_baselines(x[tr], y[tr], x[te])["tanimoto_knn"]
    assert out["metrics"]["tanimoto_knn (k=10)"] == pytest.approx(profile_metrics(knn, y[te], y[tr].mean(axis=0)))
    assert out["chosen"]["tanimoto_knn, k by CV"]["value"] in ceiling.QUICK_GRIDS["knn_k"]
    summary = ceiling.summarize([out, ceiling.run_seed(x, y, smiles, 1, ceiling.QUICK_GRIDS, log=lambda m: None)])
    assert summary["tanimoto_knn (k=10)"]["mrr"]["vs_knn_mean"] == 0.0
    other = summary["fingerprint_ridge"]["pearson_centred"]
    assert other["vs_knn_mean"] == pytest.approx(
        other["mean"] - summary["tanimoto_knn (k=10)"]["pearson_centred"]["mean"])
