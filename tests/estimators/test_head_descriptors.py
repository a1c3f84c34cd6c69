"""The heads' descriptor block (``descriptors=True``): layout, scaling, forest columns, rows kept."""

import numpy as np
import pytest
from sklearn.base import clone

from chmr_sklearn import CHMRClassifier, CHMRRegressor, CHMRTransformer
from chmr_sklearn.datasets import load_esol
from chmr_sklearn.featurize import DescriptorFeaturizer

FAST = dict(max_epochs=15, patience=5, hidden=64, batch_size=64, n_heads=1, rf_residual=False, random_state=0)


@pytest.fixture(scope="module")
def esol(data_home):
    X, y = load_esol(return_X_y=True)
    return X.iloc[:300].reset_index(drop=True), y.iloc[:300].to_numpy()


def _signed_log(D):
    return np.sign(D) * np.log1p(np.abs(D))


def test_defaults_regressor_on_classifier_off():
    # Chosen on validation splits (docstrings): ESOL / FreeSolv / Lipophilicity gained, BACE did not.
    assert CHMRRegressor().descriptors is True and CHMRClassifier().descriptors is False


def test_block_in_front_scaled_on_the_fit_molecules(esol):
    X, y = esol
    reg = CHMRRegressor(**{**FAST, "rf_residual": True, "rf_n_estimators": 10}).fit(X[:240], y[:240])
    D = _signed_log(DescriptorFeaturizer().fit_transform(X[:240]))
    np.testing.assert_allclose(reg.descriptor_mean_, D.mean(axis=0), rtol=1e-6, atol=1e-9)
    E, valid = reg._embed_input(X[240:], fitting=False)
    assert valid.all() and E.shape == (60, 79 + 2091) and reg.net_.module_.mlp.in_dim == 79 + 2091
    expected = np.clip((_signed_log(DescriptorFeaturizer().fit_transform(X[240:])) - reg.descriptor_mean_)
                       / reg.descriptor_scale_, -6, 6)
    np.testing.assert_allclose(E[:, :79], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(E[:, 79:], CHMRTransformer().fit(X).transform(X[240:]).astype(np.float32))
    # The forest sees the descriptors and the 1191 fingerprint bits, not the learned latents.
    assert reg.rf_.forests_[0].n_features_in_ == 79 + 1191


def test_fragments_add_the_functional_group_counts_everywhere(esol):
    """``descriptors="fragments"``: 79 + 85 columns in front, scaled alike, and the forest sees them too."""
    X, y = esol
    reg = CHMRRegressor(**{**FAST, "rf_residual": True, "rf_n_estimators": 10, "descriptors": "fragments"})
    reg.fit(X[:240], y[:240])
    D = _signed_log(DescriptorFeaturizer(fragments=True).fit_transform(X[:240]))
    assert reg.descriptor_mean_.shape == (164,)
    np.testing.assert_allclose(reg.descriptor_mean_, D.mean(axis=0), rtol=1e-6, atol=1e-9)
    E, _ = reg._embed_input(X[240:], fitting=False)
    assert E.shape == (60, 164 + 2091) and reg.net_.module_.mlp.in_dim == 164 + 2091
    assert reg.rf_.forests_[0].n_features_in_ == 164 + 1191
    plain = CHMRRegressor(**{**FAST, "rf_residual": True, "rf_n_estimators": 10}).fit(X[:240], y[:240])
    assert not np.allclose(reg.predict(X[240:]), plain.predict(X[240:]))
    with pytest.raises(ValueError, match="descriptors"):
        CHMRRegressor(descriptors="all").fit(X[:20], y[:20])


def test_an_unusual_molecule_is_clipped(esol):
    X, y = esol
    reg = CHMRRegressor(**FAST).fit(X, y)
    E, _ = reg._embed_input(["C" * 300], fitting=False)
    assert np.abs(E[:, :79]).max() == pytest.approx(6.0)
    assert np.isfinite(reg.predict(["C" * 300])).all()


def test_descriptors_lower_the_solubility_error(esol):
    # Solubility follows logP and polarity: whole-molecule sums the folded bits only hint at.
    X, y = esol
    errors = {}
    for on in (False, True):  # (FAST's 15 epochs at lr 1e-4 leave both heads undertrained)
        params = {**FAST, "lr": 1e-3, "max_epochs": 40, "patience": 10, "descriptors": on}
        reg = CHMRRegressor(**params).fit(X[:240], y[:240])
        errors[on] = np.abs(reg.predict(X[240:]) - y[240:]).mean()
        assert reg.net_.module_.mlp.in_dim == 2091 + 79 * on
    assert errors[True] < 0.95 * errors[False]  # 0.739 vs 0.821 when written


def test_invalid_rows_stay_in_place(esol):
    X, y = esol
    reg = CHMRRegressor(**FAST, on_invalid="nan").fit(X, y)
    pred = reg.predict(["CCO", "not a molecule", "c1ccccc1"])
    assert np.isnan(pred[1]) and np.isfinite(pred[[0, 2]]).all()
    np.testing.assert_allclose(pred[[0, 2]], reg.predict(["CCO", "c1ccccc1"]), rtol=1e-6)


def test_passthrough_has_no_molecules_to_describe(esol):
    X, y = esol
    E = CHMRTransformer().fit(X).transform(X)
    reg = CHMRRegressor("passthrough", **FAST).fit(E, y)
    assert reg.net_.module_.mlp.in_dim == E.shape[1] and not hasattr(reg, "descriptor_mean_")
    assert clone(reg).get_params()["descriptors"] is True


def test_refit_without_descriptors_drops_their_scaling(esol):
    X, y = esol
    reg = CHMRRegressor(**FAST).fit(X[:100], y[:100])
    assert reg.descriptor_mean_.shape == (79,)
    reg.set_params(descriptors=False).fit(X[:100], y[:100])
    assert not hasattr(reg, "descriptor_mean_") and reg.net_.module_.mlp.in_dim == 2091


def test_a_model_pickled_before_the_parameter_still_predicts(esol):
    import pickle

    X, y = esol
    reg = CHMRRegressor(**FAST, descriptors=False).fit(X[:100], y[:100])
    state = reg.__getstate__()
    del state["descriptors"]  # as pickled by a version without the parameter
    old = CHMRRegressor.__new__(CHMRRegressor)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    np.testing.assert_array_equal(old.predict(X[:5]), reg.predict(X[:5]))
    assert old.get_params()["descriptors"] is False
