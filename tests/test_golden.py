"""Golden values: what the shipped encoder computes for 22 real, varied molecules.

Every other test would pass with a wrong but deterministic featurizer, 3D scaler or encoder;
this one pins the numbers. ``tests/data/golden_embeddings.rdkit-<version>.npz`` holds the
molecules, their ``CHMRTransformer(precision="float64")`` embeddings (all columns) and tree
codes. The 3D block (and so the tree codes) depends on RDKit's conformer generator, which
changes between RDKit releases (2026.03 → 2026.09 moved the 3D latent by up to 1.5 while the
fingerprint, 1D and 2D latents stayed bit-identical), so there is one file per RDKit version
and the test uses the installed version's; an RDKit without a file fails with how to add it.

**When a change to the numbers is intended** (a new shipped model, a featurization or encoder
change), regenerate the file with ``python scripts/regenerate_golden.py`` (it prints how far
the values moved), review that, and commit the file together with the change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rdkit

from chmr_sklearn import CHMRTransformer

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / f"golden_embeddings.rdkit-{rdkit.__version__}.npz"
STORED = sorted(DATA.glob("golden_embeddings.rdkit-*.npz"))
# fingerprint bits, 1D latent, 2D latent: independent of the conformer generator
STRUCTURAL = slice(0, 1791)
# float64 inference is batch-independent and rounds once to float32: only another CPU's
# libm/BLAS can move it, by a few float32 ulps. float32 inference: the documented 1e-5.
TOLERANCE = {"float64": 1e-6, "float32": 1e-5}


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    if not GOLDEN.is_file():
        pytest.fail(f"No golden values for RDKit {rdkit.__version__} (stored: {[p.name for p in STORED]}). "
                    "Run `python scripts/regenerate_golden.py` under this RDKit; it prints how far each "
                    "block moved from the stored versions (only z3d may move); review and commit the file.")
    with np.load(GOLDEN) as data:
        return {k: data[k] for k in data.files}


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(b).max(axis=1, keepdims=True), 1e-12)
    return float((np.abs(a.astype(np.float64) - b) / scale).max())


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_embeddings_and_tree_codes_match_the_golden_values(golden, precision):
    smiles = golden["smiles"].tolist()
    t = CHMRTransformer(precision=precision, n_jobs=1).fit(smiles)
    emb, codes = t.transform(smiles), t.tree_codes(smiles)
    n_latents = len(t.model_.molecular_modalities)  # 1D, 2D (and 3D if the shipped encoder has it)
    assert emb.shape == golden["embedding"].shape == (22, 1191 + 300 * n_latents)
    np.testing.assert_array_equal(emb[:, :1191], golden["embedding"][:, :1191])  # fingerprint bits exact
    assert _relative(emb, golden["embedding"]) <= TOLERANCE[precision]
    # each latent block separately: a broken modality cannot hide behind the others
    for block in range(n_latents):
        cols = slice(1191 + 300 * block, 1191 + 300 * (block + 1))
        assert _relative(emb[:, cols], golden["embedding"][:, cols]) <= 10 * TOLERANCE[precision]
    np.testing.assert_array_equal(codes, golden["tree_codes"])


def test_golden_molecules_are_varied(golden):
    # guards the file itself: distinct molecules, distinct latents, several tree branches
    assert len(set(golden["smiles"].tolist())) == 22
    assert len(np.unique(golden["embedding"][:, 1191:].round(4), axis=0)) == 22
    assert len(np.unique(golden["tree_codes"][:, 2])) >= 3


def test_structural_blocks_agree_across_rdkit_versions():
    # RDKit releases may move the conformers (z3d), never the fingerprint, 1D and 2D latents
    assert len(STORED) >= 1
    first = np.load(STORED[0])
    for path in STORED[1:]:
        other = np.load(path)
        assert other["smiles"].tolist() == first["smiles"].tolist()
        np.testing.assert_array_equal(other["embedding"][:, STRUCTURAL], first["embedding"][:, STRUCTURAL])

