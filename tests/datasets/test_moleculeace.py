"""MoleculeACE loader against the 30 real files: sizes, split column, cliff flags, download path."""

from __future__ import annotations

import doctest
import gzip
import re

import numpy as np
import pandas as pd
import pytest

import chmr_sklearn.datasets as ds
from chmr_sklearn.datasets import ChecksumError, MOLECULEACE_DATASETS, _base, _moleculeace, load_moleculeace
from chmr_sklearn.datasets._registry import REGISTRY

# Row counts from shared/data/PROVENANCE.md (MoleculeACE 3.0.0 wheel): 615-3657 each, 48,714 in all.
ROWS = {
    "CHEMBL1862_Ki": 794, "CHEMBL1871_Ki": 659, "CHEMBL2034_Ki": 750, "CHEMBL2047_EC50": 631,
    "CHEMBL204_Ki": 2754, "CHEMBL2147_Ki": 1456, "CHEMBL214_Ki": 3317, "CHEMBL218_EC50": 1031,
    "CHEMBL219_Ki": 1865, "CHEMBL228_Ki": 1704, "CHEMBL231_Ki": 973, "CHEMBL233_Ki": 3142,
    "CHEMBL234_Ki": 3657, "CHEMBL235_EC50": 2349, "CHEMBL236_Ki": 2598, "CHEMBL237_EC50": 955,
    "CHEMBL237_Ki": 2603, "CHEMBL238_Ki": 1052, "CHEMBL239_EC50": 1721, "CHEMBL244_Ki": 3097,
    "CHEMBL262_Ki": 856, "CHEMBL264_Ki": 2862, "CHEMBL2835_Ki": 615, "CHEMBL287_Ki": 1328,
    "CHEMBL2971_Ki": 976, "CHEMBL3979_EC50": 1125, "CHEMBL4005_Ki": 960, "CHEMBL4203_Ki": 731,
    "CHEMBL4616_EC50": 682, "CHEMBL4792_Ki": 1471,
}


def test_the_30_sets_are_registered_with_pinned_sources(data_home):
    assert MOLECULEACE_DATASETS == tuple(sorted(ROWS)) and len(ROWS) == 30
    provenance = (data_home / "PROVENANCE.md").read_text()
    for name in MOLECULEACE_DATASETS:
        entry = REGISTRY[f"moleculeace_{name}"]
        assert entry["path"] == f"pypi/moleculeace/{name}.csv.gz"
        assert re.fullmatch(r"https://raw\.githubusercontent\.com/molML/MoleculeACE/[0-9a-f]{40}/"
                            r"MoleculeACE/Data/benchmark_data/" + name + r"\.csv", entry["url"])
        assert f"{entry['sha256']}  {name}" in provenance
        raw = (data_home / entry["path"]).read_bytes()
        assert _base._sha256(gzip.decompress(raw)) == entry["content_sha256"]
    assert ds.list_datasets("activity_cliffs") == ["moleculeace"]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_set_loads_in_file_order_with_split_and_cliffs(name, data_home):
    ace = load_moleculeace(name, data_home=data_home)
    raw = pd.read_csv(ace.filename)
    assert len(ace.data) == ROWS[name] == len(raw)
    assert ace.data.tolist() == raw["smiles"].tolist() and ace.data.name == "smiles"
    assert ace.target.dtype == np.float64 and ace.target.name == "y" and not ace.target.isna().any()
    np.testing.assert_array_equal(ace.target.to_numpy(), raw["y"].to_numpy())
    # y is -log10 of the activity in nM (the unit the DESCR states)
    np.testing.assert_allclose(ace.target, -np.log10(raw["exp_mean [nM]"]), atol=1e-6)
    assert set(ace.cliff_mol.unique()) == {0, 1} and set(ace.split.unique()) == {"train", "test"}
    # MoleculeACE's split holds out ~20 % and keeps cliff molecules in both parts
    n_test = int((ace.split == "test").sum())
    assert 0.18 < n_test / len(raw) < 0.22
    assert ace.cliff_mol[ace.split == "test"].sum() > 0 and ace.cliff_mol[ace.split == "train"].sum() > 0
    assert ace.metric == "neg_mean_rmse" and name in ace.DESCR and REGISTRY[f"moleculeace_{name}"]["url"] in ace.DESCR


def test_split_parts_partition_the_file(data_home):
    full = load_moleculeace("CHEMBL4203_Ki", data_home=data_home)
    parts = {s: load_moleculeace("CHEMBL4203_Ki", split=s, data_home=data_home) for s in ("train", "test")}
    assert [len(parts[s].data) for s in ("train", "test")] == [582, 149]
    for s, part in parts.items():
        assert isinstance(part.data.index, pd.RangeIndex)  # positional indices within the part
        mask = (full.split == s).to_numpy()
        assert part.data.tolist() == full.data[mask].tolist()
        np.testing.assert_array_equal(part.target, full.target[mask])
        np.testing.assert_array_equal(part.cliff_mol, full.cliff_mol[mask])
        assert (part.split == s).all() and len(part.frame) == len(part.data)
    X, y = load_moleculeace("CHEMBL4203_Ki", split="test", return_X_y=True, data_home=data_home)
    assert X.tolist() == parts["test"].data.tolist() and y.tolist() == parts["test"].target.tolist()


def test_numpy_output_and_drop_invalid(data_home):
    arr = load_moleculeace("CHEMBL2835_Ki", as_frame=False, drop_invalid=True, data_home=data_home)
    assert arr.frame is None and arr.data.dtype == object and arr.split.dtype == object
    assert arr.target.dtype == np.float64 and arr.cliff_mol.dtype.kind == "i"
    assert arr.n_invalid_dropped == 0 and arr.data.shape == (615,)


def test_bad_name_and_split_are_refused(data_home):
    with pytest.raises(ValueError, match="MOLECULEACE_DATASETS"):
        load_moleculeace("CHEMBL0_Ki", data_home=data_home)
    with pytest.raises(ValueError, match="split must be"):
        load_moleculeace("CHEMBL2835_Ki", split="valid", data_home=data_home)


def test_download_is_verified_and_gzipped(monkeypatch, tmp_path, data_home):
    entry = REGISTRY["moleculeace_CHEMBL2835_Ki"]
    plain = gzip.decompress((data_home / entry["path"]).read_bytes())  # what GitHub serves
    urls = []
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: urls.append(url) or plain)
    ace = load_moleculeace("CHEMBL2835_Ki", data_home=tmp_path)
    assert urls == [entry["url"]] and len(ace.data) == 615
    stored = tmp_path / entry["path"]
    assert gzip.decompress(stored.read_bytes()) == plain
    # a tampered download is refused and nothing is left behind
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: plain.replace(b",train", b",test", 1))
    with pytest.raises(ChecksumError):
        load_moleculeace("CHEMBL4203_Ki", data_home=tmp_path)
    assert not (tmp_path / REGISTRY["moleculeace_CHEMBL4203_Ki"]["path"]).exists()
    with pytest.raises(FileNotFoundError):
        load_moleculeace("CHEMBL4203_Ki", data_home=tmp_path, download_if_missing=False)


def test_docstring_examples(data_home, monkeypatch):
    monkeypatch.setenv("CHMR_DATA_HOME", str(data_home))
    result = doctest.testmod(_moleculeace, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
