"""ProfileTable and InChIKey helpers, on the real L1000 / Cell Painting files."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.profiles import ProfileTable, inchikeys_from_smiles, is_inchikey


# ----------------------------------------------------------------------------- InChIKeys
def test_inchikeys_from_smiles_real_molecules(wehi_smiles):
    smiles = wehi_smiles[:300]
    keys = inchikeys_from_smiles(smiles)
    assert keys.shape == (300,) and keys.dtype == object
    assert all(is_inchikey(k) for k in keys)
    # Same molecule written differently -> same key; Mol objects are accepted too.
    mol = Chem.MolFromSmiles(smiles[5])
    again = inchikeys_from_smiles([Chem.MolToSmiles(mol, doRandom=True, rootedAtAtom=1), mol])
    assert again.tolist() == [keys[5], keys[5]]


def test_inchikeys_from_smiles_invalid_entries_are_none(wehi_smiles):
    keys = inchikeys_from_smiles(pd.Series([wehi_smiles[0], "C1CC", None, float("nan"), "", 3]))
    assert is_inchikey(keys[0])
    assert keys[1:].tolist() == [None] * 5
    assert inchikeys_from_smiles([]).shape == (0,)


# ----------------------------------------------------------------------------- real tables
def test_real_l1000_duplicate_keys_are_averaged(l1000_drugbank):
    df = l1000_drugbank
    genes = [c for c in df.columns if c not in ("drugbank_id", "name", "inchikey", "smiles")]
    table = ProfileTable(df, name="expression", inchikey_col="inchikey")
    assert table.name == "expression"
    assert table.dim == 978 == len(table.feature_names)
    assert table.feature_names == [str(g) for g in genes]
    assert table.ignored_columns == ["drugbank_id", "name"]  # smiles is a key column
    n_unique = df["inchikey"].nunique()
    assert len(table) == len(table.keys) == n_unique and len(set(table.keys)) == n_unique
    assert table.n_duplicates_ == len(df) - n_unique == 21
    assert table.features.dtype == np.float32 and table.features.shape == (n_unique, 978)
    # keys in order of first appearance
    assert table.keys.tolist() == list(dict.fromkeys(df["inchikey"]))
    expected = df.groupby("inchikey", sort=False)[genes].mean()
    dup_keys = df.loc[df["inchikey"].duplicated(), "inchikey"].unique()
    X, observed = table.align(list(dup_keys))
    assert observed.all()
    np.testing.assert_allclose(X, expected.loc[dup_keys].to_numpy(), rtol=1e-6, atol=1e-5)


def test_real_replicates_with_different_values_are_averaged(cmea_l1000):
    # In the DrugBank file the duplicated keys carry identical signatures; build replicates that
    # differ: rows 0..19 again, under their own keys, with the measured values of rows 20..39.
    df = cmea_l1000
    genes = list(df.columns[4:])
    extra = df.iloc[:20].copy()
    extra[genes] = df.iloc[20:40][genes].to_numpy()
    table = ProfileTable(pd.concat([df, extra], ignore_index=True), inchikey_col="inchikey")
    assert table.n_duplicates_ == 20 and len(table) == 162
    a, b = df.iloc[:20][genes].to_numpy(), df.iloc[20:40][genes].to_numpy()
    np.testing.assert_allclose(table.features[:20], (a + b) / 2, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(table.features[20:40], b, rtol=1e-6)
    assert not np.allclose(table.features[:20], a, atol=1e-3)  # neither first nor last row
    assert not np.allclose(table.features[:20], b, atol=1e-3)


def test_real_keys_from_smiles_agree_with_inchikey_column(cmea_l1000):
    by_key = ProfileTable(cmea_l1000, name="ge", inchikey_col="inchikey")
    by_smiles = ProfileTable(cmea_l1000, name="ge")  # keys computed with RDKit
    assert "inchikey" in by_smiles.ignored_columns and "broad_id" in by_smiles.ignored_columns
    assert len(by_key) == len(by_smiles) == 162
    assert np.mean(by_key.keys == by_smiles.keys) > 0.95
    np.testing.assert_array_equal(by_key.features, by_smiles.features)


def test_align_real_table_nan_rows_for_missing(cmea_cellpainting, wehi_smiles):
    table = ProfileTable(cmea_cellpainting, name="morphology", inchikey_col="inchikey")
    absent = inchikeys_from_smiles(wehi_smiles[:3])
    assert not any(k in table for k in absent)
    query = [table.keys[10], absent[0], None, table.keys[0], float("nan"), absent[1], "InChIKey=" + table.keys[3]]
    X, observed = table.align(query)
    assert X.shape == (7, 812) and X.dtype == np.float32
    assert observed.tolist() == [True, False, False, True, False, False, True]
    assert np.isnan(X[~observed]).all()
    np.testing.assert_array_equal(X[observed], table.features[[10, 0, 3]])
    # the file writes keys as "InChIKey=XXX"; the table strips the prefix
    assert cmea_cellpainting["inchikey"].iloc[10] == "InChIKey=" + table.keys[10]
    expected = cmea_cellpainting.iloc[10][table.feature_names].to_numpy(dtype=float)
    np.testing.assert_allclose(X[0], expected, rtol=1e-6)


def test_explicit_feature_cols_keep_order(cmea_l1000):
    cols = ["RHEB", "ATF1", "ADAM10"]
    table = ProfileTable(cmea_l1000, inchikey_col="inchikey", feature_cols=cols)
    assert table.feature_names == cols and table.dim == 3
    assert table.ignored_columns == []
    np.testing.assert_allclose(table.features[0], cmea_l1000.loc[0, cols].to_numpy(dtype=float), rtol=1e-6)


def test_repr_and_pickle(cmea_l1000):
    table = ProfileTable(cmea_l1000, name="ge", inchikey_col="inchikey")
    text = repr(table)
    assert "ge" in text and "n_keys=162" in text and "dim=978" in text and "broad_id" in text
    clone = pickle.loads(pickle.dumps(table))
    np.testing.assert_array_equal(clone.features, table.features)
    assert clone.align([table.keys[7]])[1].tolist() == [True]
    assert table.to_frame().shape == (162, 978)


# ----------------------------------------------------------------------------- small cases
def test_duplicates_mean_exact_and_count():
    df = pd.DataFrame(
        {"smiles": ["CCO", "OCC", "c1ccccc1", "C(O)C"], "a": [1.0, 2.0, 10.0, 6.0], "b": [0, 0, 1, 3]}
    )
    table = ProfileTable(df)
    assert table.n_duplicates_ == 2 and len(table) == 2
    assert table.features.tolist() == [[3.0, 1.0], [10.0, 1.0]]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_feature_rejected_with_location(bad):
    df = pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "a": [1.0, 2.0, 3.0], "b": [1.0, bad, 3.0]})
    with pytest.raises(ValueError, match=r"1 NaN or infinite.*row 1, 'b'"):
        ProfileTable(df)


def test_nullable_missing_rejected():
    df = pd.DataFrame({"smiles": ["CCO", "CCN"], "a": pd.array([1, None], dtype="Int64")})
    with pytest.raises(ValueError, match="NaN or infinite"):
        ProfileTable(df)


def test_many_non_finite_values_counted(cmea_l1000):
    df = cmea_l1000.copy()
    df.iloc[:40, 10:20] = np.nan
    with pytest.raises(ValueError, match=r"400 NaN or infinite value\(s\) in 40 row\(s\) and 10 column"):
        ProfileTable(df, inchikey_col="inchikey")


def test_invalid_smiles_lists_every_bad_row(wehi_smiles):
    smiles = list(wehi_smiles[:10])
    smiles[3], smiles[7] = "C1CC", None
    df = pd.DataFrame({"smiles": smiles, "f": np.arange(10.0)})
    with pytest.raises(InvalidMoleculeError) as err:
        ProfileTable(df)
    assert err.value.rows == [3, 7]
    assert isinstance(err.value, ValueError)


def test_malformed_inchikeys_listed():
    df = pd.DataFrame(
        {"ik": ["LFQSCWFLJHTTHZ-UHFFFAOYSA-N", "LFQSCWFLJHTTHZ", None, "lfqscwfljhtthz-uhfffaoysa-n"], "f": [1.0] * 4}
    )
    with pytest.raises(ValueError, match=r"3 malformed InChIKey\(s\).*row\(s\) \[1: .*2: nan, 3: "):
        ProfileTable(df, inchikey_col="ik", smiles_col=None)


def test_inchikey_prefix_is_stripped():
    df = pd.DataFrame({"ik": [" InChIKey=LFQSCWFLJHTTHZ-UHFFFAOYSA-N"], "f": [1.0]})
    assert ProfileTable(df, inchikey_col="ik").keys.tolist() == ["LFQSCWFLJHTTHZ-UHFFFAOYSA-N"]


def test_non_numeric_feature_cols_named():
    df = pd.DataFrame({"smiles": ["CCO", "CCN"], "f": [1.0, 2.0], "label": ["x", "y"], "g": [1, 2]})
    with pytest.raises(ValueError, match=r"1 are not.*label"):
        ProfileTable(df, feature_cols=["f", "label", "g"])
    with pytest.raises(ValueError, match="not found.*nope"):
        ProfileTable(df, feature_cols=["f", "nope"])
    with pytest.raises(ValueError, match="key column"):
        ProfileTable(df, feature_cols=["f", "smiles"])
    with pytest.raises(ValueError, match="empty"):
        ProfileTable(df, feature_cols=[])
    # default: the string column is ignored, ints and floats are features
    table = ProfileTable(df)
    assert table.feature_names == ["f", "g"] and table.ignored_columns == ["label"]
    assert "label" in repr(table)


def test_empty_and_featureless_tables_rejected():
    with pytest.raises(ValueError, match="0 rows"):
        ProfileTable(pd.DataFrame({"smiles": pd.Series([], dtype=str), "f": pd.Series([], dtype=float)}))
    with pytest.raises(ValueError, match="no numeric feature"):
        ProfileTable(pd.DataFrame({"smiles": ["CCO"], "name": ["ethanol"]}))
    with pytest.raises(ValueError, match="DataFrame"):
        ProfileTable(np.zeros((2, 2)))


def test_key_columns_required():
    df = pd.DataFrame({"SMILES": ["CCO"], "f": [1.0]})
    with pytest.raises(ValueError, match="smiles_col='smiles' is not a column"):
        ProfileTable(df)
    with pytest.raises(ValueError, match="inchikey_col='ik' is not a column"):
        ProfileTable(df, inchikey_col="ik")
    with pytest.raises(ValueError, match="Pass inchikey_col or smiles_col"):
        ProfileTable(df, smiles_col=None)
    assert ProfileTable(df, smiles_col="SMILES").dim == 1


def test_align_rejects_single_string():
    table = ProfileTable(pd.DataFrame({"smiles": ["CCO"], "f": [1.0]}))
    with pytest.raises(ValueError, match="sequence"):
        table.align("LFQSCWFLJHTTHZ-UHFFFAOYSA-N")
    X, observed = table.align([])
    assert X.shape == (0, 1) and observed.shape == (0,)


# ----------------------------------------------------------------------------- keyed by the index
@pytest.mark.filterwarnings("error::pandas.errors.PerformanceWarning")  # the frames below are fragmented
def test_table_keyed_by_its_index(cmea_l1000):
    """A DataFrame whose index holds SMILES or InChIKeys and whose columns are the features."""
    genes = [c for c in cmea_l1000.columns if c not in ("broad_id", "pert_iname", "smiles", "inchikey")]
    reference = ProfileTable(cmea_l1000, name="expression", inchikey_col="inchikey")
    by_key = cmea_l1000.set_index("inchikey")[genes]
    by_key_unnamed = by_key.rename_axis(None)
    by_smiles = cmea_l1000.set_index("smiles")[genes].rename_axis("structure")
    from_smiles = ProfileTable(cmea_l1000, name="expression")  # keys computed from the SMILES column
    for frame, kwargs, expected in [(by_key, {"inchikey_col": "inchikey"}, reference), (by_key_unnamed, {}, reference),
                                    (by_key_unnamed, {"inchikey_col": "inchikey"}, reference),
                                    (reference.to_frame(), {}, reference), (by_smiles, {}, from_smiles),
                                    # the pretraining path asks for inchikey_col="inchikey" when there is
                                    # no SMILES column: the SMILES index is still what identifies them
                                    (by_smiles, {"inchikey_col": "inchikey"}, from_smiles)]:
        table = ProfileTable(frame, name="expression", **kwargs)
        assert table.keys.tolist() == expected.keys.tolist()
        assert table.feature_names == genes and table.ignored_columns == []
        np.testing.assert_allclose(table.features, expected.features, rtol=1e-6)


@pytest.mark.filterwarnings("error::pandas.errors.PerformanceWarning")
def test_index_that_holds_no_molecules_is_reported(cmea_l1000):
    genes = [c for c in cmea_l1000.columns if c not in ("broad_id", "pert_iname", "smiles", "inchikey")]
    with pytest.raises(InvalidMoleculeError, match="162 invalid molecule"):
        ProfileTable(cmea_l1000.set_index("broad_id")[genes])  # Broad ids are not molecules
    with pytest.raises(ValueError, match="nor an index level"):
        ProfileTable(cmea_l1000[genes])  # default integer index: nothing identifies the molecules
