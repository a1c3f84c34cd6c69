"""ConformerFeaturizer: seeded conformers, 3D descriptors, failure flag, determinism."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, RDConfig
from rdkit.Chem import rdDistGeom
from rdkit.Chem import rdMolDescriptors as rdmd

from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.featurize import ConformerFeaturizer
from chmr_sklearn.featurize.conformers import DESCRIPTOR_BLOCKS

WEHI = os.path.join(RDConfig.RDDataDir, "Pains", "test_data", "wehi_mols.csv")
# Bicyclo[1.1.0]butane with trans bridgehead stereo: no 3D embedding satisfies it.
UNEMBEDDABLE = "[C@H]12C[C@@H]1C2"
N_OUT = 652


@pytest.fixture(scope="module")
def real_smiles() -> list[str]:
    """150 real molecules shipped with RDKit (every 67th of the 10,000)."""
    return pd.read_csv(WEHI, header=None)[0].tolist()[::67][:150]


@pytest.fixture(scope="module")
def default_output(real_smiles) -> np.ndarray:
    return ConformerFeaturizer().fit_transform(real_smiles)


def test_shape_names_and_flag(real_smiles, default_output):
    f = ConformerFeaturizer().fit(real_smiles)
    names = f.get_feature_names_out()
    assert default_output.shape == (len(real_smiles), N_OUT) == (len(real_smiles), len(names))
    assert default_output.dtype == np.float64
    assert len(set(names)) == len(names) and names[-1] == "conformer_ok"
    assert [n for n in names if n.startswith("autocorr3d_")][-1] == "autocorr3d_79"
    assert sum(n.startswith("rdf_") for n in names) == 210
    assert sum(n.startswith("morse_") for n in names) == 224
    assert sum(n.startswith("whim_") for n in names) == 114
    assert sum(n.startswith("usr_") for n in names) == 12
    assert sum(w for _, w in DESCRIPTOR_BLOCKS) == N_OUT - 1
    assert set(np.unique(default_output[:, -1])) <= {0.0, 1.0}
    ok = default_output[:, -1] == 1
    assert ok.mean() > 0.95  # real drug-like molecules embed
    assert np.isfinite(default_output[ok]).all()
    assert np.isnan(default_output[~ok, :-1]).all()


def test_descriptors_match_rdkit_on_the_same_conformer():
    smi = "CC(=O)Nc1ccc(O)cc1"
    out = ConformerFeaturizer(random_state=7).fit_transform([smi])[0]
    mol = Chem.MolFromSmiles(smi)
    params = rdDistGeom.EmbedParameters()
    params.useExpTorsionAnglePrefs = params.useBasicKnowledge = False
    params.randomSeed = 8  # random_state + 1
    assert rdDistGeom.EmbedMolecule(mol, params) == 0
    expected = np.concatenate([
        rdmd.CalcAUTOCORR3D(mol), rdmd.CalcRDF(mol), rdmd.CalcMORSE(mol), rdmd.CalcWHIM(mol),
        rdmd.GetUSR(mol),
        [f(mol) for f in (rdmd.CalcPMI1, rdmd.CalcPMI2, rdmd.CalcPMI3, rdmd.CalcNPR1, rdmd.CalcNPR2,
                          rdmd.CalcRadiusOfGyration, rdmd.CalcInertialShapeFactor,
                          rdmd.CalcEccentricity, rdmd.CalcAsphericity, rdmd.CalcSpherocityIndex,
                          rdmd.CalcPBF)],
        [1.0],
    ])
    np.testing.assert_array_equal(out, expected)


def test_same_seed_identical_other_seed_differs(real_smiles, default_output):
    subset = real_smiles[:40]
    again = ConformerFeaturizer(random_state=0).fit_transform(subset)
    np.testing.assert_array_equal(again, default_output[:40])
    for seed in (1, 2):  # RDKit alone makes seeds 0 and 1 identical; we shift them
        other = ConformerFeaturizer(random_state=seed).fit_transform(subset)
        ok = (other[:, -1] == 1) & (again[:, -1] == 1)
        assert not (other[ok] == again[ok]).all(axis=1).any()


def test_parallel_is_bit_identical(real_smiles, default_output):
    parallel = ConformerFeaturizer(n_jobs=2).fit_transform(real_smiles)
    assert np.array_equal(parallel, default_output, equal_nan=True)


@pytest.mark.parametrize("kwargs", [dict(method="etkdg", add_hydrogens=True),
                                    dict(method="etkdg", add_hydrogens=False),
                                    dict(method="dg", add_hydrogens=True)])
def test_other_settings_deterministic(real_smiles, kwargs):
    smiles = real_smiles[:6]
    a = ConformerFeaturizer(**kwargs, random_state=3).fit_transform(smiles)
    b = ConformerFeaturizer(**kwargs, random_state=3).fit_transform(smiles)
    np.testing.assert_array_equal(a, b)
    assert (a[:, -1] == 1).all()


def test_hydrogens_change_the_descriptors():
    heavy, with_h = (ConformerFeaturizer(add_hydrogens=h).fit_transform(["CCO"])[0] for h in (False, True))
    assert heavy[-1] == with_h[-1] == 1.0
    # heavy-atom radius of gyration of ethanol is smaller than with its 6 hydrogens
    names = list(ConformerFeaturizer().get_feature_names_out())
    rg = names.index("radius_of_gyration")
    assert heavy[rg] < with_h[rg]


@pytest.mark.parametrize("optimize", ["mmff", "uff"])
def test_force_field_optimisation(optimize):
    plain = ConformerFeaturizer().fit_transform(["CC(=O)Nc1ccc(O)cc1"])
    relaxed = ConformerFeaturizer(optimize=optimize).fit_transform(["CC(=O)Nc1ccc(O)cc1"])
    assert relaxed[0, -1] == 1.0 and not np.array_equal(plain, relaxed)


# A real WEHI molecule (hypervalent sulfur, S_5+4) that UFF cannot type (MMFF94 can).
UNTYPABLE = "S31(N(Cc2c1cccc2)C(=O)C)OC(=O)c4c3cccc4"


def test_failed_force_field_relaxation_is_recorded_in_the_flag():
    # UFF would run with the untyped atom left out and return "converged": not a relaxation.
    X = ["CC(=O)Nc1ccc(O)cc1", UNTYPABLE]
    assert ConformerFeaturizer().fit_transform(X)[:, -1].tolist() == [1.0, 1.0]
    relaxed = ConformerFeaturizer(optimize="uff").fit_transform(X)
    assert relaxed[:, -1].tolist() == [1.0, 0.0]
    assert np.isnan(relaxed[1, :-1]).all()
    assert ConformerFeaturizer(optimize="mmff").fit_transform(X)[:, -1].tolist() == [1.0, 1.0]


# ---- failure paths ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["dg", "etkdg"])
def test_unembeddable_molecule_gets_flag_zero(method, real_smiles):
    out = ConformerFeaturizer(method=method, max_attempts=3).fit_transform(
        [real_smiles[0], UNEMBEDDABLE, real_smiles[1]]
    )
    assert out[:, -1].tolist() == [1.0, 0.0, 1.0]
    assert np.isnan(out[1, :-1]).all() and np.isfinite(out[[0, 2]]).all()


def test_max_atoms_skips_large_molecules(real_smiles):
    sizes = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in real_smiles[:20]])
    cap = int(np.median(sizes))
    out = ConformerFeaturizer(max_atoms=cap).fit_transform(real_smiles[:20])
    np.testing.assert_array_equal(out[:, -1], (sizes <= cap).astype(float))
    assert np.isnan(out[sizes > cap, :-1]).all()
    assert (ConformerFeaturizer(max_atoms=None).fit_transform(real_smiles[:3])[:, -1] == 1).all()


def test_tiny_molecules_fail_softly():
    # One heavy atom: USR (needs >= 3 atoms) is undefined -> flag 0; with hydrogens it works.
    heavy = ConformerFeaturizer().fit_transform(["C", "[Na+].[Cl-]", "CCO"])
    assert heavy[:, -1].tolist() == [0.0, 0.0, 1.0]
    assert ConformerFeaturizer(add_hydrogens=True).fit_transform(["C"])[0, -1] == 1.0


def test_invalid_smiles_raise_listing_all_rows():
    with pytest.raises(InvalidMoleculeError) as err:
        ConformerFeaturizer().fit_transform(["CCO", "xyz", "c1ccccc1", None, "C1CC"])
    assert err.value.rows == [1, 3, 4]


def test_invalid_smiles_nan_rows_flag_nan_too():
    out = ConformerFeaturizer(on_invalid="nan").fit_transform(["CCO", "xyz", UNEMBEDDABLE])
    assert out.shape == (3, N_OUT)
    assert out[0, -1] == 1.0
    assert np.isnan(out[1]).all()  # not a molecule: NaN everywhere, flag included
    assert out[2, -1] == 0.0 and np.isnan(out[2, :-1]).all()  # a molecule without conformer


# ---- inputs, logging, sklearn ---------------------------------------------------------------------
def test_mol_input_is_not_modified():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    out = ConformerFeaturizer().fit_transform([mol])
    ref = ConformerFeaturizer().fit_transform(["CCO"])
    assert mol.GetNumConformers() == 0 and mol.GetNumAtoms() == 9
    np.testing.assert_array_equal(out, ref)  # explicit Hs removed when add_hydrogens=False


def test_rdkit_logs_are_silenced(capfd):
    ConformerFeaturizer(method="etkdg").fit_transform(["CCO", UNEMBEDDABLE, "C"])
    captured = capfd.readouterr()
    assert "AddHs" not in captured.err and captured.err.strip() == ""


def test_pandas_output(real_smiles):
    df = pd.DataFrame({"smiles": real_smiles[:3], "y": [0, 1, 0]})
    f = ConformerFeaturizer().set_output(transform="pandas")
    out = f.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(f.get_feature_names_out()) and out.shape == (3, N_OUT)
    assert list(f.feature_names_in_) == ["smiles", "y"]


def test_descriptor_subset_is_the_same_columns_of_the_full_output(real_smiles, default_output):
    """descriptors= keeps whole families in canonical order, computed on the same conformer."""
    f = ConformerFeaturizer(descriptors=["shape", "whim", "autocorr3d"])  # order given != output order
    sub = f.fit_transform(real_smiles)
    names = ConformerFeaturizer().fit(real_smiles).get_feature_names_out()
    keep = [i for i, n in enumerate(names) if n.startswith(("autocorr3d_", "whim_")) or i >= N_OUT - 12]
    assert sub.shape == (len(real_smiles), 80 + 114 + 11 + 1) == (len(real_smiles), f.n_features_out)
    assert list(f.get_feature_names_out()) == [names[i] for i in keep]
    np.testing.assert_array_equal(sub, default_output[:, keep])


def test_coarser_force_tolerance_changes_the_geometry_not_the_flags(real_smiles, default_output):
    coarse = ConformerFeaturizer(force_tol=1e-2).fit_transform(real_smiles)
    np.testing.assert_array_equal(coarse[:, -1], default_output[:, -1])
    ok = default_output[:, -1] == 1
    assert not np.array_equal(coarse[ok], default_output[ok])  # the option reaches RDKit
    # the same molecules, slightly less converged: global shape (radius of gyration) stays close
    names = list(ConformerFeaturizer().fit(real_smiles).get_feature_names_out())
    rg = names.index("radius_of_gyration")
    np.testing.assert_allclose(coarse[ok, rg], default_output[ok, rg], rtol=0.15)
    np.testing.assert_array_equal(ConformerFeaturizer(force_tol=1e-2).fit_transform(real_smiles[:20]), coarse[:20])


def test_bad_parameters():
    with pytest.raises(ValueError, match="method"):
        ConformerFeaturizer(method="unimol").fit(["CCO"])
    with pytest.raises(ValueError, match="max_attempts"):
        ConformerFeaturizer(max_attempts=0).fit(["CCO"])
    with pytest.raises(ValueError, match="force_tol"):
        ConformerFeaturizer(force_tol=0).fit(["CCO"])
    with pytest.raises(ValueError, match="descriptors must be None or a non-empty selection.*'wim'"):
        ConformerFeaturizer(descriptors=["whim", "wim"]).fit_transform(["CCO"])
    with pytest.raises(ValueError, match="descriptors"):
        ConformerFeaturizer(descriptors=[]).fit_transform(["CCO"])


_CTRL_C_AFTER_EMBEDDING = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job may inherit SIG_IGN
from chmr_sklearn.featurize import ConformerFeaturizer
ConformerFeaturizer().transform({smiles!r})
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)
    print("swallowed")
except KeyboardInterrupt:
    print("raised")
"""


def test_ctrl_c_raises_after_conformer_embedding(real_smiles):
    """RDKit's conformer code leaves its own SIGINT handler installed; a Ctrl-C after an
    embedding (e.g. during the head fit that follows) must still raise KeyboardInterrupt."""
    import subprocess
    import sys

    code = _CTRL_C_AFTER_EMBEDDING.format(smiles=real_smiles[:5])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.stdout.strip() == "raised", out.stderr[-2000:]


def test_rdkit_invariant_violation_is_a_failed_conformer_not_a_crash():
    # a real mercury chelate (LINCS perturbagen) on which RDKit 2026.03's distance-geometry
    # bounds builder raises "Invariant Violation: bad lower bound"
    smiles = "c1cc2c3c(c1)ccc[n+]3[Hg]1([O]2)[O]c2cccc3ccc[n+]1c23"
    rows = ConformerFeaturizer().transform([smiles, "CCO"])
    assert rows[0, -1] == 0.0 and np.isnan(rows[0, :-1]).all()  # conformer_ok = 0
    assert rows[1, -1] == 1.0 and np.isfinite(rows[1]).all()


# A DrugBank macrolide (L1000-profiled) and an amphetamine that came before it in a pretraining
# chunk: RDKit's EmbedMolecule keeps state in the EmbedParameters it is given, and with one
# parameter object reused per chunk the macrolide's descriptors changed by up to 6e4.
MACROLIDE = ("C/C=C/C=C/C1OC(O)(C(CC)C(=O)NC/C=C/C=C(\\C)C(OC)C(C)C2OC(/C=C/C=C/C=C(\\C)C(=O)c3c(O)n(C)ccc3=O)"
             "C(O)C2O)C(O)C(OC2OC(C)C(OC3OC(C)C(OC)C(O)C3OC)C(OC)C2O)C1(C)C")


def test_a_molecule_embeds_the_same_whatever_came_before_it_in_the_batch():
    feat = ConformerFeaturizer(method="dg", descriptors=["autocorr3d", "whim", "usr", "shape"], force_tol=1e-2)
    alone = feat.transform([MACROLIDE])
    after = feat.transform(["C[C@H](N)Cc1ccccc1", MACROLIDE])[1:]
    assert alone[0, -1] == 1.0
    np.testing.assert_array_equal(after, alone)
