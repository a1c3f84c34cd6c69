"""featurize_molecular: the three modalities of one parse per molecule, equal to the featurizers'."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from chmr_sklearn.featurize import ConformerFeaturizer, FingerprintFeaturizer, GraphFeaturizer
from chmr_sklearn.featurize.molecular import featurize_molecular


@pytest.fixture(scope="module")
def mols(smiles_200) -> list[str]:
    return smiles_200[:40] + ["not a smiles", "[Na+].[Cl-]", "C"]


def test_rows_equal_the_three_featurizers_bit_for_bit(mols):
    feats, scaler = featurize_molecular(mols)
    fp = FingerprintFeaturizer(on_invalid="nan").fit_transform(mols)
    graphs = GraphFeaturizer(on_invalid="nan").fit_transform(mols)[:, 0]
    conf = ConformerFeaturizer(on_invalid="nan").fit_transform(mols)
    valid = ~np.isnan(fp[:, 0])
    np.testing.assert_array_equal(feats.valid, valid)
    np.testing.assert_array_equal(feats.fp, np.nan_to_num(fp, nan=0.0))
    ok = (conf[:, -1] == 1.0) & valid
    np.testing.assert_array_equal(feats.conf_ok, ok)
    np.testing.assert_array_equal(feats.conf, scaler.transform(conf[:, :-1], ok))
    for got, want in zip(feats.graphs, graphs, strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            for field in ("x", "edge_index", "edge_attr"):
                np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


def test_each_molecule_is_parsed_once(mols, monkeypatch):
    calls = []
    parse = Chem.MolFromSmiles

    def counting(*args, **kwargs):
        calls.append(args[0])
        return parse(*args, **kwargs)

    monkeypatch.setattr(Chem, "MolFromSmiles", counting)
    featurize_molecular(mols[:10])
    assert len(calls) == 10  # the three featurizers used to parse every SMILES once each


def test_workers_give_the_same_rows(smiles_200):
    mols = smiles_200 + ["not a smiles", "C"]  # several chunks, so the workers run (tests/featurize/test_chunks.py)
    one, _ = featurize_molecular(mols, n_jobs=1)
    two, _ = featurize_molecular(mols, n_jobs=2)
    np.testing.assert_array_equal(one.fp, two.fp)
    np.testing.assert_array_equal(one.conf, two.conf)
    assert all((a is None and b is None) or np.array_equal(a.x, b.x) for a, b in zip(one.graphs, two.graphs, strict=True))


def test_no_conformer_method_keeps_the_1d_and_2d_rows(mols):
    """conformer_method="none" (encoders without 3D) skips conformers, nothing else changes."""
    full, _ = featurize_molecular(mols)
    flat, scaler = featurize_molecular(mols, conformer_method="none", n_jobs=2)
    assert flat.conf.shape == (len(mols), 0) and not flat.conf_ok.any() and scaler.mean.shape == (0,)
    np.testing.assert_array_equal(flat.fp, full.fp)
    np.testing.assert_array_equal(flat.valid, full.valid)
    assert all((a is None and b is None) or np.array_equal(a.x, b.x) for a, b in zip(flat.graphs, full.graphs,
                                                                                      strict=True))


def test_conformer_options_reach_the_3d_rows(mols):
    """conformer_descriptors / conformer_force_tol give ConformerFeaturizer's rows, standardized."""
    feats, scaler = featurize_molecular(mols, conformer_descriptors=["usr", "shape"], conformer_force_tol=1e-2,
                                        n_jobs=2)
    conf = ConformerFeaturizer(descriptors=["usr", "shape"], force_tol=1e-2, on_invalid="nan").fit_transform(mols)
    ok = (conf[:, -1] == 1.0) & feats.valid
    assert feats.conf.shape == (len(mols), 12 + 11)
    np.testing.assert_array_equal(feats.conf_ok, ok)
    np.testing.assert_array_equal(feats.conf, scaler.transform(conf[:, :-1], ok))
