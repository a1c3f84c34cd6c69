"""Loaders against the real files: sizes from PROVENANCE.md, columns, NaN kept, options."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import chmr_sklearn.datasets as ds
from chmr_sklearn.datasets import _base, _molecules, _profiles

# name -> (rows, n_tasks, first target, last target, NaN labels in the file, invalid SMILES)
EXPECTED = {
    "bbbp": (2050, 1, "p_np", "p_np", 0, 11),
    "bace": (1513, 1, "Class", "Class", 0, 0),
    "clintox": (1484, 2, "FDA_APPROVED", "CT_TOX", 0, 4),
    "sider": (1427, 27, "Hepatobiliary disorders", "Injury, poisoning and procedural complications", 0, 0),
    "hiv": (41127, 1, "HIV_active", "HIV_active", 0, 7),
    "tox21": (7831, 12, "NR-AR", "SR-p53", 16026, 8),
    "toxcast": (8576, 617, "ACEA_T47D_80hr_Negative", "Tanguay_ZF_120hpf_YSE_up", 3757732, 0),
    "esol": (1128, 1, "measured log solubility in mols per litre", "measured log solubility in mols per litre", 0, 0),
    "freesolv": (642, 1, "expt", "expt", 0, 0),
    "lipophilicity": (4200, 1, "exp", "exp", 0, 0),
    "chembl2k": (2355, 41, "ABCB1", "SLC6A4", 79953, 0),
    "broad6k": (6567, 32, "220_692", None, 31786, 0),
}


def _load(name, **kw):
    return getattr(ds, f"load_{name}")(**kw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_shapes_columns_and_missing_labels(name, data_home):
    rows, n_tasks, first, last, n_nan, _ = EXPECTED[name]
    bunch = _load(name, data_home=data_home)
    assert len(bunch.target_names) == n_tasks
    assert bunch.target_names[0] == first
    if last is not None:
        assert bunch.target_names[-1] == last
    assert isinstance(bunch.data, pd.Series) and bunch.data.name == "smiles"
    assert bunch.data.shape == (rows,)
    assert isinstance(bunch.frame.index, pd.RangeIndex) and len(bunch.frame) == rows
    # rows in file order, labels untouched except for the float cast
    raw = pd.read_csv(bunch.filename)
    assert bunch.data.tolist() == raw["smiles"].tolist()
    if n_tasks == 1:
        assert isinstance(bunch.target, pd.Series) and bunch.target.name == first
        labels = bunch.target.to_frame()
    else:
        assert isinstance(bunch.target, pd.DataFrame) and list(bunch.target.columns) == bunch.target_names
        labels = bunch.target
    assert (labels.dtypes == np.float64).all()
    assert int(labels.isna().to_numpy().sum()) == n_nan
    np.testing.assert_array_equal(labels.to_numpy(), raw[bunch.target_names].to_numpy(dtype=float))
    assert bunch.n_invalid_dropped == 0 and bunch.dropped_rows.size == 0
    for text in (bunch.filename.split("/")[-1], "sha256", "Licence", str(rows)):
        assert text in bunch.DESCR
    assert "https://raw.githubusercontent.com/" in bunch.DESCR


def test_classification_labels_are_binary(data_home):
    for name in ["bbbp", "bace", "clintox", "sider", "tox21", "toxcast", "chembl2k", "broad6k"]:
        y = np.asarray(_load(name, data_home=data_home, return_X_y=True)[1], dtype=float)
        assert set(np.unique(y[~np.isnan(y)])) == {0.0, 1.0}, name


@pytest.mark.parametrize("name", ["bbbp", "clintox", "tox21"])
def test_drop_invalid(name, data_home):
    rows, _, _, _, _, n_invalid = EXPECTED[name]
    full = _load(name, data_home=data_home)
    kept = _load(name, data_home=data_home, drop_invalid=True)
    assert kept.n_invalid_dropped == n_invalid == kept.dropped_rows.size
    assert len(kept.data) == rows - n_invalid
    assert isinstance(kept.data.index, pd.RangeIndex)  # positional split indices stay usable
    keep = np.setdiff1d(np.arange(rows), kept.dropped_rows)
    assert kept.data.tolist() == full.data.iloc[keep].tolist()
    pd.testing.assert_frame_equal(
        kept.frame, full.frame.iloc[keep].reset_index(drop=True)
    )
    X, y = _load(name, data_home=data_home, drop_invalid=True, return_X_y=True)
    assert len(X) == len(y) == rows - n_invalid


def test_bbbp_invalid_rows_are_the_known_ones(data_home):
    bunch = ds.load_bbbp(data_home=data_home, drop_invalid=True)
    assert bunch.dropped_rows.tolist() == [59, 61, 391, 614, 642, 645, 646, 647, 648, 649, 685]


@pytest.mark.slow
def test_hiv_drop_invalid(data_home):
    assert ds.load_hiv(data_home=data_home, drop_invalid=True).n_invalid_dropped == 7


def test_return_X_y_and_as_frame(data_home):
    X, y = ds.load_tox21(data_home=data_home, return_X_y=True)
    assert isinstance(X, pd.Series) and isinstance(y, pd.DataFrame) and y.shape == (7831, 12)
    X, y = ds.load_tox21(data_home=data_home, return_X_y=True, as_frame=False)
    assert X.dtype == object and X.shape == (7831,) and isinstance(X[0], str)
    assert y.dtype == np.float64 and y.shape == (7831, 12) and np.isnan(y).sum() == 16026
    bunch = ds.load_bbbp(data_home=data_home, as_frame=False)
    assert bunch.frame is None and bunch.target.shape == (2050,) and bunch.data.dtype == object


def test_bace_tasks(data_home):
    clf = ds.load_bace(data_home=data_home)
    reg = ds.load_bace(data_home=data_home, task="regression")
    assert clf.target.name == "Class" and clf.metric == "mean_roc_auc"
    assert reg.target.name == "pIC50" and reg.metric == "neg_mean_rmse"
    assert reg.target.between(2, 11).all() and clf.frame.shape == (1513, 595)
    with pytest.raises(ValueError, match="task must be"):
        ds.load_bace(data_home=data_home, task="pIC50")


def test_split_protocols(data_home):
    assert ds.load_chembl2k(data_home=data_home).split_protocol == {
        "method": "random_groups", "sizes": (0.6, 0.15, 0.25), "random_state": 3}
    assert ds.load_broad6k(data_home=data_home).split_protocol["random_state"] == 3
    for name in ["bbbp", "bace", "clintox", "sider", "tox21", "toxcast"]:
        assert _load(name, data_home=data_home).split_protocol == {
            "method": "ogb", "sizes": (0.8, 0.1, 0.1), "random_state": None}
    assert ds.load_esol(data_home=data_home).split_protocol is None


# ---------------------------------------------------------------- profiles


def test_l1000_drugbank(data_home):
    df = ds.load_l1000_drugbank(data_home=data_home)
    assert df.shape == (1170, 982)
    assert list(df.columns[:4]) == ["drugbank_id", "name", "inchikey", "smiles"]
    genes = df.columns[4:]
    assert len(genes) == 978 and all(g.isdigit() for g in genes)  # Entrez ids, as strings
    assert (df[genes].dtypes == np.float64).all()
    assert not df.isna().to_numpy().any()  # no missing value anywhere (checked: 0 NaN)
    assert df["drugbank_id"].is_unique and df["drugbank_id"].str.match(r"DB\d{5}$").all()
    assert df["inchikey"].duplicated().sum() == 21  # distinct DrugBank ids, same structure
    assert not df["inchikey"].str.startswith("InChIKey=").any()
    assert "0 NaN" in df.attrs["DESCR"] and "CC BY-NC" in df.attrs["DESCR"]


def test_cmea_paired(data_home):
    cmea = ds.load_cmea_paired(data_home=data_home)
    cp, ge = cmea.cell_painting, cmea.expression
    assert cp.shape == (162, 4 + 812) and ge.shape == (162, 4 + 978)
    assert list(cp.columns[:4]) == list(ge.columns[:4]) == cmea.meta_columns
    assert cmea.meta_columns == ["broad_id", "pert_iname", "smiles", "inchikey"]
    assert cp["broad_id"].tolist() == ge["broad_id"].tolist()  # rows paired
    assert cp["broad_id"].is_unique and cp["broad_id"].str.startswith("BRD-").all()
    assert len(cmea.cell_painting_features) == 812 and len(cmea.expression_features) == 978
    for frame, feats in [(cp, cmea.cell_painting_features), (ge, cmea.expression_features)]:
        assert (frame[feats].dtypes == np.float64).all()
        assert not frame.isna().to_numpy().any()  # checked: 0 NaN in features and metadata
    assert cmea.DESCR.count("0 NaN") == 2


def test_wehi_molecules():
    wehi = ds.load_wehi_molecules()
    assert wehi.data.shape == (10000,) and wehi.data.name == "smiles"
    assert wehi.ids.is_unique and wehi.ids.str.fullmatch(r"(WEHI|CGF)-\d{7}").all()
    assert wehi.data.iloc[0] == "N(NC(=O)C1CCC1)c2ccc(cc2)C(C)(C)C"
    arr = ds.load_wehi_molecules(as_frame=False)
    assert arr.data.dtype == object and arr.frame is None


def test_list_datasets_matches_loaders():
    names = ds.list_datasets()
    assert names == sorted(names) and len(names) == 16
    for name in names:
        assert callable(getattr(ds, f"load_{name}"))
    assert set(ds.list_datasets("benchmark")) == set(EXPECTED)
    with pytest.raises(ValueError, match="kind"):
        ds.list_datasets("images")
    assert set(ds.__all__) >= {f"load_{n}" for n in names}


@pytest.mark.parametrize("module", [ds, _base, _molecules, _profiles], ids=lambda m: m.__name__)
def test_docstring_examples(module, data_home, monkeypatch):
    monkeypatch.setenv("CHMR_DATA_HOME", str(data_home))
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
