"""FingerprintFeaturizer: exact bits against RDKit, invalid rows, parallelism, sklearn API."""

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.featurize import FingerprintFeaturizer

MOLECULE_XFAIL = {"check_fit_score_takes_y": "random floats are not molecules; y is accepted (tested below)"}


@parametrize_with_checks([FingerprintFeaturizer()], legacy=False, expected_failed_checks=lambda e: MOLECULE_XFAIL)
def test_sklearn_api(estimator, check):
    check(estimator)


def _reference(smiles, radius=2, n_bits=1024):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    rows = []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        maccs = np.zeros(167)
        DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(m), maccs)
        rows.append(np.concatenate([gen.GetFingerprintAsNumPy(m), maccs]))
    return np.array(rows, dtype=np.float32)


def test_bits_match_plain_rdkit(smiles_200):
    out = FingerprintFeaturizer().fit_transform(smiles_200, np.zeros(len(smiles_200)))
    assert out.shape == (200, 1191)
    np.testing.assert_array_equal(out, _reference(smiles_200))


def test_radius_and_size_are_parameters(smiles_200):
    out = FingerprintFeaturizer(radius=3, n_bits=2048, maccs=False).fit_transform(smiles_200[:20])
    assert out.shape == (20, 2048)
    ref = rdFingerprintGenerator.GetMorganGenerator(radius=3, fpSize=2048)
    np.testing.assert_array_equal(out[3], ref.GetFingerprintAsNumPy(Chem.MolFromSmiles(smiles_200[3])))


def test_parallel_equals_serial(wehi_smiles):
    smi = wehi_smiles[:1500]
    serial = FingerprintFeaturizer(n_jobs=1).transform(smi)
    parallel = FingerprintFeaturizer(n_jobs=2).transform(smi)
    np.testing.assert_array_equal(serial, parallel)


def test_invalid_rows_raise_or_nan(smiles_200):
    smi = [smiles_200[0], "nope", smiles_200[1], None, "C1CC", smiles_200[2]]
    with pytest.raises(InvalidMoleculeError) as info:
        FingerprintFeaturizer(n_jobs=2).fit_transform(smi)
    assert info.value.rows == [1, 3, 4]
    out = FingerprintFeaturizer(on_invalid="nan").fit_transform(smi)
    assert out.shape == (6, 1191)
    assert np.isnan(out[[1, 3, 4]]).all()
    np.testing.assert_array_equal(out[[0, 2, 5]], _reference([smi[0], smi[2], smi[5]]))


def test_dataframe_input_pandas_output_and_feature_names(smiles_200):
    df = pd.DataFrame({"smiles": smiles_200[:10], "label": range(10)}, index=range(100, 110))
    fp = FingerprintFeaturizer().set_output(transform="pandas").fit(df)
    assert fp.n_features_in_ == 2
    assert list(fp.feature_names_in_) == ["smiles", "label"]
    out = fp.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(range(100, 110))
    assert list(out.columns[:2]) == ["morgan_0", "morgan_1"] and out.columns[-1] == "maccs_166"
    with pytest.raises(ValueError, match="X has 1 features"):
        fp.transform(smiles_200[:3])


def test_clone_pickle_pipeline(smiles_200):
    import pickle

    fp = FingerprintFeaturizer(radius=1, n_bits=64)
    twin = clone(fp)
    assert twin.get_params() == fp.get_params()
    loaded = pickle.loads(pickle.dumps(fp.fit(smiles_200)))
    np.testing.assert_array_equal(loaded.transform(smiles_200), fp.transform(smiles_200))
    pipe = make_pipeline(FingerprintFeaturizer(), StandardScaler()).fit(smiles_200)
    assert pipe.transform(smiles_200[:4]).shape == (4, 1191)
    fp.set_params(n_bits=128)
    assert fp.fit_transform(smiles_200[:2]).shape == (2, 128 + 167)


def test_bad_parameters_give_clear_errors(smiles_200):
    with pytest.raises(ValueError, match="on_invalid"):
        FingerprintFeaturizer(on_invalid="drop").fit(smiles_200)
    with pytest.raises(ValueError, match="n_bits"):
        FingerprintFeaturizer(n_bits=0).fit(smiles_200)
