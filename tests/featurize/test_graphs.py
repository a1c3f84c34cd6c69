"""GraphFeaturizer: OGB atom / bond features, both edge directions, collate, sklearn contract."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, RDConfig
from sklearn.utils.estimator_checks import parametrize_with_checks

from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.featurize import (
    ATOM_FEATURE_DIMS,
    BOND_FEATURE_DIMS,
    ConformerFeaturizer,
    GraphBatch,
    GraphFeaturizer,
    MolGraph,
)
from chmr_sklearn.featurize.graphs import ALLOWABLE_ATOM_FEATURES, ALLOWABLE_BOND_FEATURES, mol_to_graph

WEHI = os.path.join(RDConfig.RDDataDir, "Pains", "test_data", "wehi_mols.csv")


@pytest.fixture(scope="module")
def real_smiles() -> list[str]:
    """300 real molecules shipped with RDKit (every 33rd of the 10,000)."""
    return pd.read_csv(WEHI, header=None)[0].tolist()[::33][:300]


# ---- OGB reference: OGB's algorithm (str names + list.index + last-entry fallback) ----------
def _safe_index(values: list, value) -> int:
    return values.index(value) if value in values else len(values) - 1


def _ogb_atom(atom: Chem.Atom) -> list[int]:
    f = ALLOWABLE_ATOM_FEATURES
    return [
        _safe_index(f["atomic_num"], atom.GetAtomicNum()),
        _safe_index(f["chirality"], str(atom.GetChiralTag())),
        _safe_index(f["degree"], atom.GetTotalDegree()),
        _safe_index(f["formal_charge"], atom.GetFormalCharge()),
        _safe_index(f["num_hs"], atom.GetTotalNumHs()),
        _safe_index(f["num_radical_electrons"], atom.GetNumRadicalElectrons()),
        _safe_index(f["hybridization"], str(atom.GetHybridization())),
        f["is_aromatic"].index(atom.GetIsAromatic()),
        f["is_in_ring"].index(atom.IsInRing()),
    ]


def _ogb_graph(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = ALLOWABLE_BOND_FEATURES
    edges, attrs = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        feat = [
            _safe_index(f["bond_type"], str(bond.GetBondType())),
            f["bond_stereo"].index(str(bond.GetStereo())),
            f["is_conjugated"].index(bond.GetIsConjugated()),
        ]
        edges += [(i, j), (j, i)]
        attrs += [feat, feat]
    x = np.array([_ogb_atom(a) for a in mol.GetAtoms()], dtype=np.int64)
    edge_index = np.array(edges, dtype=np.int64).T.reshape(2, -1)
    return x, edge_index, np.array(attrs, dtype=np.int64).reshape(-1, 3)


# ---- vocabularies ---------------------------------------------------------------------------
def test_vocabulary_sizes_match_ogb():
    assert ATOM_FEATURE_DIMS == (119, 5, 12, 12, 10, 6, 6, 2, 2)
    assert BOND_FEATURE_DIMS == (5, 6, 2)
    assert tuple(len(v) for v in ALLOWABLE_ATOM_FEATURES.values()) == ATOM_FEATURE_DIMS
    assert tuple(len(v) for v in ALLOWABLE_BOND_FEATURES.values()) == BOND_FEATURE_DIMS


def test_vocabulary_sizes_match_the_gnn():
    gin = pytest.importorskip("chmr_sklearn.nn.gin")
    if not hasattr(gin, "ATOM_FEATURE_DIMS"):
        pytest.skip("nn/gin.py does not define the vocabularies yet")
    assert tuple(gin.ATOM_FEATURE_DIMS) == ATOM_FEATURE_DIMS
    assert tuple(gin.BOND_FEATURE_DIMS) == BOND_FEATURE_DIMS


# ---- hand-checked molecules -------------------------------------------------------------------
def test_ethanol():
    (g,) = GraphFeaturizer().fit_transform(["CCO"])[:, 0]
    # atomic_num-1, chirality, total degree, charge+5, total Hs, radicals, SP3=2, aromatic, ring
    assert g.x.tolist() == [
        [5, 0, 4, 5, 3, 0, 2, 0, 0],
        [5, 0, 4, 5, 2, 0, 2, 0, 0],
        [7, 0, 2, 5, 1, 0, 2, 0, 0],
    ]
    assert g.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert g.edge_attr.tolist() == [[0, 0, 0]] * 4
    assert g.x.dtype == g.edge_index.dtype == g.edge_attr.dtype == np.int64


def test_benzene_aromatic_bonds():
    (g,) = GraphFeaturizer().fit_transform(["c1ccccc1"])[:, 0]
    assert g.x.tolist() == [[5, 0, 3, 5, 1, 0, 1, 1, 1]] * 6  # SP2, aromatic, in ring
    assert g.edge_index.shape == (2, 12)
    assert g.edge_attr.tolist() == [[3, 0, 1]] * 12  # AROMATIC, STEREONONE, conjugated


def test_charged_atoms():
    (ammonium, acetate) = GraphFeaturizer().fit_transform(["C[N+](C)(C)C", "CC(=O)[O-]"])[:, 0]
    assert ammonium.x[1].tolist() == [6, 0, 4, 6, 0, 0, 2, 0, 0]  # N, charge +1 -> index 6
    assert acetate.x[3].tolist() == [7, 0, 1, 4, 0, 0, 1, 0, 0]  # O, charge -1 -> index 4
    # C=O double bond (conjugated with the carboxylate)
    assert acetate.edge_attr[2].tolist() == [1, 0, 1]


def test_chirality_and_double_bond_stereo_as_in_ogb_docs():
    # The example in OGB's features.py: atom 1 is CCW, bond 2 is a STEREOE double bond.
    (g,) = GraphFeaturizer().fit_transform(["Cl[C@H](/C=C/C)Br"])[:, 0]
    assert g.x[1].tolist() == [5, 2, 4, 5, 1, 0, 2, 0, 0]
    assert g.edge_attr[2 * 2].tolist() == [1, 2, 0]
    (cw,) = GraphFeaturizer().fit_transform(["Cl[C@@H](/C=C/C)Br"])[:, 0]
    assert cw.x[1, 1] == 1


def test_misc_fallbacks():
    dummy, dative, h2 = (mol_to_graph(Chem.MolFromSmiles(s)) for s in ("*C", "[NH3]->[Pt]", "[H][H]"))
    assert dummy.x[0, 0] == 118  # atomic number 0 -> 'misc'
    assert dative.edge_attr[0, 0] == 4  # DATIVE bond -> 'misc'
    assert h2.x[0, 6] == 5  # hybridization S -> 'misc'
    from chmr_sklearn.featurize import _molgraph

    assert _molgraph._BOND_STEREO[Chem.BondStereo.STEREOATROPCW] == 5  # OGB would raise; STEREOANY
    assert _molgraph._CHIRALITY[Chem.ChiralType.CHI_TETRAHEDRAL] == 4


def test_single_atom_has_no_edges():
    (g,) = GraphFeaturizer().fit_transform(["[Na+]"])[:, 0]
    assert g.x.shape == (1, 9)
    assert g.edge_index.shape == (2, 0) and g.edge_attr.shape == (0, 3)


# ---- real molecules -----------------------------------------------------------------------------
def test_matches_ogb_algorithm_on_real_molecules(real_smiles):
    graphs = GraphFeaturizer().fit_transform(real_smiles)
    assert graphs.shape == (len(real_smiles), 1) and graphs.dtype == object
    for smi, g in zip(real_smiles, graphs[:, 0]):
        x, edge_index, edge_attr = _ogb_graph(Chem.MolFromSmiles(smi))
        np.testing.assert_array_equal(g.x, x)
        np.testing.assert_array_equal(g.edge_index, edge_index)
        np.testing.assert_array_equal(g.edge_attr, edge_attr)


def test_shapes_ranges_and_both_directions(real_smiles):
    for smi, g in zip(real_smiles, GraphFeaturizer().fit_transform(real_smiles)[:, 0]):
        mol = Chem.MolFromSmiles(smi)
        n, b = mol.GetNumAtoms(), mol.GetNumBonds()
        assert isinstance(g, MolGraph)
        assert g.x.shape == (n, 9) and g.edge_index.shape == (2, 2 * b) and g.edge_attr.shape == (2 * b, 3)
        assert ((g.x >= 0) & (g.x < np.array(ATOM_FEATURE_DIMS))).all()
        assert ((g.edge_attr >= 0) & (g.edge_attr < np.array(BOND_FEATURE_DIMS))).all()
        # every bond in both directions, with the same features
        np.testing.assert_array_equal(g.edge_index[:, 0::2], g.edge_index[::-1, 1::2])
        np.testing.assert_array_equal(g.edge_attr[0::2], g.edge_attr[1::2])
        pairs = {tuple(p) for p in g.edge_index.T}
        assert pairs == {(bd.GetBeginAtomIdx(), bd.GetEndAtomIdx()) for bd in mol.GetBonds()} | {
            (bd.GetEndAtomIdx(), bd.GetBeginAtomIdx()) for bd in mol.GetBonds()
        }


def test_parallel_is_identical(real_smiles):
    serial = GraphFeaturizer().fit_transform(real_smiles)[:, 0]
    parallel = GraphFeaturizer(n_jobs=2).fit_transform(real_smiles)[:, 0]
    for a, b in zip(serial, parallel):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def test_mol_and_dataframe_input(real_smiles):
    mols = [Chem.MolFromSmiles(s) for s in real_smiles[:5]]
    from_mols = GraphFeaturizer().fit_transform(mols)
    df = pd.DataFrame({"id": range(5), "smiles": real_smiles[:5]})
    from_df = GraphFeaturizer().fit_transform(df)
    for a, b in zip(from_mols[:, 0], from_df[:, 0]):
        np.testing.assert_array_equal(a.x, b.x)
    assert all(m.GetNumConformers() == 0 for m in mols)


# ---- collate ----------------------------------------------------------------------------------------
def _manual_collate(graphs):
    xs, eis, eas, batch, offset = [], [], [], [], 0
    for gid, g in enumerate(graphs):
        if g is None:
            continue
        xs.append(g.x)
        eis.append(g.edge_index + offset)
        eas.append(g.edge_attr)
        batch += [gid] * len(g.x)
        offset += len(g.x)
    return np.concatenate(xs), np.concatenate(eis, axis=1), np.concatenate(eas), np.array(batch)


def test_collate_matches_manual_construction(real_smiles):
    smiles = [None, *real_smiles[:20], "not a smiles", *real_smiles[20:30], ""]
    out = GraphFeaturizer(on_invalid="nan").fit_transform(smiles)
    graphs = list(out[:, 0])
    assert graphs[0] is None and graphs[21] is None and graphs[-1] is None
    x, ei, ea, batch = _manual_collate(graphs)
    for b in (GraphFeaturizer.collate(out), GraphFeaturizer.collate(graphs)):
        assert isinstance(b, GraphBatch)
        assert b.num_graphs == len(smiles)  # None still counts: pooled rows == input rows
        np.testing.assert_array_equal(b.x, x)
        np.testing.assert_array_equal(b.edge_index, ei)
        np.testing.assert_array_equal(b.edge_attr, ea)
        np.testing.assert_array_equal(b.batch, batch)
        assert all(a.dtype == np.int64 for a in (b.x, b.edge_index, b.edge_attr, b.batch))
    # no node of a None row; every edge stays inside its own graph
    assert not np.isin([0, 21, len(smiles) - 1], b.batch).any()
    np.testing.assert_array_equal(b.batch[b.edge_index[0]], b.batch[b.edge_index[1]])


def test_collate_small_offsets_by_hand():
    b = GraphFeaturizer.collate(GraphFeaturizer().fit_transform(["CO", "CCO"]))
    assert b.edge_index.tolist() == [[0, 1, 2, 3, 3, 4], [1, 0, 3, 2, 4, 3]]
    assert b.batch.tolist() == [0, 0, 1, 1, 1]


def test_collate_all_none_and_pandas_output():
    empty = GraphFeaturizer.collate([None, None])
    assert empty.num_graphs == 2 and empty.x.shape == (0, 9)
    assert empty.edge_index.shape == (2, 0) and empty.edge_attr.shape == (0, 3)
    df = GraphFeaturizer().set_output(transform="pandas").fit_transform(["CCO", "c1ccccc1"])
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["graph"] and len(df) == 2
    assert GraphFeaturizer.collate(df).num_graphs == 2
    with pytest.raises(TypeError, match="MolGraph"):
        GraphFeaturizer.collate(["CCO"])


def test_to_torch():
    torch = pytest.importorskip("torch")
    b = GraphFeaturizer.collate(GraphFeaturizer(on_invalid="nan").fit_transform(["CCO", "?", "c1ccccc1"]))
    t = b.to_torch()
    assert set(t) == {"x", "edge_index", "edge_attr", "batch", "num_graphs"}
    assert t["num_graphs"] == 3
    for key in ("x", "edge_index", "edge_attr", "batch"):
        assert t[key].dtype == torch.int64 and t[key].device.type == "cpu"
        np.testing.assert_array_equal(t[key].numpy(), getattr(b, key))


# ---- invalid input and sklearn contract ---------------------------------------------------
def test_invalid_rows_raise_listing_all():
    with pytest.raises(InvalidMoleculeError) as err:
        GraphFeaturizer().fit_transform(["CCO", "xyz", "c1ccccc1", None, "C1CC"])
    assert err.value.rows == [1, 3, 4]


def test_invalid_rows_nan_gives_none():
    out = GraphFeaturizer(on_invalid="nan").fit_transform(["CCO", "xyz", "c1ccccc1"])
    assert out.shape == (3, 1)
    assert out[1, 0] is None and isinstance(out[0, 0], MolGraph)


def test_feature_names():
    f = GraphFeaturizer().fit(["CCO"])
    assert f.get_feature_names_out().tolist() == ["graph"]
    assert len(f.get_feature_names_out()) == f.transform(["CCO"]).shape[1]


@parametrize_with_checks(
    [GraphFeaturizer(), ConformerFeaturizer()],
    legacy=False,
    expected_failed_checks=lambda est: {"check_fit_score_takes_y": "random floats are not molecules"},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
