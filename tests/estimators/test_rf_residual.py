"""RandomForestResidual's training offsets: out-of-bag, or out-of-fold over scaffold groups.

Real molecules (RDKit's WEHI set), their 1191 fingerprint bits, and RDKit's logP as target.
"""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

from chmr_sklearn import CHMRRegressor
from chmr_sklearn.estimators._head import _scaffold_group_ids
from chmr_sklearn.estimators.rf_residual import RandomForestResidual
from chmr_sklearn.featurize import FingerprintFeaturizer


@pytest.fixture(scope="module")
def data(wehi_smiles):
    smiles = np.array(wehi_smiles[::10][:600], dtype=object)
    X = FingerprintFeaturizer().fit_transform(smiles)
    y = np.array([Descriptors.MolLogP(Chem.MolFromSmiles(s)) for s in smiles])
    return smiles, X, y[:, None], _scaffold_group_ids(smiles)


def _forest(**kw) -> RandomForestResidual:
    return RandomForestResidual(task="mse", n_estimators=40, random_state=0, **kw)


def test_a_rows_out_of_fold_offset_never_depends_on_its_scaffolds_labels(data):
    _, X, Y, groups = data
    big = np.bincount(groups).argmax()  # the largest scaffold group (benzene-like)
    members = groups == big
    assert 5 < members.sum() < len(Y) // 5
    shifted = Y.copy()
    shifted[members] += 10.0  # a label change only this group's own fold forest does not see
    a = _forest().fit(X, Y, groups=groups).oob_offset_
    b = _forest().fit(X, shifted, groups=groups).oob_offset_
    np.testing.assert_array_equal(a[members], b[members])
    assert np.abs(a[~members] - b[~members]).max() > 1.0  # the other folds' forests saw the shift
    # out-of-bag offsets do not have that property: scaffold-mates trained the same trees
    oob_a, oob_b = _forest().fit(X, Y).oob_offset_, _forest().fit(X, shifted).oob_offset_
    assert np.abs(oob_a[members] - oob_b[members]).max() > 1.0


def test_out_of_bag_offsets_are_the_optimistic_ones(data):
    _, X, Y, groups = data
    oob = np.abs(_forest().fit(X, Y).oob_offset_ - Y).mean()
    oof = np.abs(_forest().fit(X, Y, groups=groups).oob_offset_ - Y).mean()
    assert oob < oof  # new scaffolds are harder than unseen rows of known scaffolds


def test_one_group_falls_back_to_out_of_bag(data):
    _, X, Y, _ = data
    one = np.zeros(len(Y), dtype=int)
    np.testing.assert_array_equal(_forest().fit(X, Y, groups=one).oob_offset_, _forest().fit(X, Y).oob_offset_)


def test_classification_folds_missing_a_class_get_its_prior(data):
    _, X, Y, groups = data
    y = (groups == np.bincount(groups).argmax()).astype(float)[:, None]  # one scaffold is the positive class
    res = RandomForestResidual(task="bce", n_estimators=20, random_state=0).fit(X, y, groups=groups)
    off = res.oob_offset_[:, 0]
    assert np.isfinite(off).all()
    # every positive sits in one fold, whose forest saw negatives only: the prior of the other folds
    assert np.ptp(off[y[:, 0] == 1]) == 0 and off[y[:, 0] == 1][0] == pytest.approx(np.log(1e-3 / (1 - 1e-3)))


@pytest.mark.parametrize("task", ["mse", "bce"])
def test_threads_grow_the_same_forests_and_predict_reproducibly(data, task):
    _, X, Y, groups = data
    Y = Y if task == "mse" else (Y > np.median(Y)).astype(float)
    for kw in ({}, {"groups": groups}):  # out-of-bag and out-of-fold offsets
        one = RandomForestResidual(task=task, n_estimators=40, random_state=0, n_jobs=1).fit(X, Y, **kw)
        two = RandomForestResidual(task=task, n_estimators=40, random_state=0, n_jobs=2).fit(X, Y, **kw)
        np.testing.assert_array_equal(one.oob_offset_, two.oob_offset_)
        np.testing.assert_array_equal(one.offset(X[:50]), two.offset(X[:50]))
    # the fitted forests predict in one thread: sklearn would sum a threaded predict's trees
    # in completion order, whose float rounding differs from run to run
    assert two.forests_[0].n_jobs == 1 and len(two.forests_[0].estimators_) == 40


def test_regressor_option_changes_only_the_training_offsets(data):
    smiles, _, Y, _ = data
    fast = dict(transformer=FingerprintFeaturizer(), hidden=32, max_epochs=3, rf_residual=True, rf_n_estimators=30,
                random_state=0)
    oob = CHMRRegressor(**fast).fit(smiles, Y[:, 0])
    oof = CHMRRegressor(**fast, rf_offsets="scaffold").fit(smiles, Y[:, 0])
    # same seed: same training rows, same final forest, different offsets to learn against
    def forest_input(est):  # what the forest sees: the regressor's descriptors and the bits
        return est._embed_input(smiles[:50], fitting=False)[0][:, est._forest_columns()]

    np.testing.assert_array_equal(oob.rf_.offset(forest_input(oob)), oof.rf_.offset(forest_input(oof)))
    assert not np.allclose(oob.rf_.oob_offset_, oof.rf_.oob_offset_)
    assert not np.allclose(oob.predict(smiles[:50]), oof.predict(smiles[:50]))


def test_numbers_without_molecules_get_out_of_bag_offsets(data):
    _, X, Y, _ = data
    fast = dict(hidden=16, max_epochs=2, rf_residual=True, rf_n_estimators=20, random_state=0)
    oob = CHMRRegressor("passthrough", **fast).fit(X, Y[:, 0])
    scaffold = CHMRRegressor("passthrough", **fast, rf_offsets="scaffold").fit(X, Y[:, 0])
    np.testing.assert_array_equal(oob.rf_.oob_offset_, scaffold.rf_.oob_offset_)
    np.testing.assert_array_equal(oob.predict(X), scaffold.predict(X))
