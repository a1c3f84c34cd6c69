"""Golden values: what the shipped encoder computes for 22 real, varied molecules.

Every other test would pass with a wrong but deterministic featurizer, 3D scaler or encoder;
this one pins the numbers. ``tests/data/golden_embeddings.npz`` holds the molecules, their
``CHMRTransformer(precision="float64")`` embeddings (2091 columns) and tree codes.

**When a change to the numbers is intended** (a new shipped model, a featurization or encoder
change), regenerate the file with ``python scripts/regenerate_golden.py`` (it prints how far
the values moved), review that, and commit the file together with the change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chmr_sklearn import CHMRTransformer

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_embeddings.npz"
# float64 inference is batch-independent and rounds once to float32: only another CPU's
# libm/BLAS can move it, by a few float32 ulps. float32 inference: the documented 1e-5.
TOLERANCE = {"float64": 1e-6, "float32": 1e-5}


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
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
    assert emb.shape == golden["embedding"].shape == (22, 2091)
    np.testing.assert_array_equal(emb[:, :1191], golden["embedding"][:, :1191])  # fingerprint bits exact
    assert _relative(emb, golden["embedding"]) <= TOLERANCE[precision]
    # each block (1D, 2D, 3D latent) separately: a broken modality cannot hide behind the others
    for block in range(3):
        cols = slice(1191 + 300 * block, 1191 + 300 * (block + 1))
        assert _relative(emb[:, cols], golden["embedding"][:, cols]) <= 10 * TOLERANCE[precision]
    np.testing.assert_array_equal(codes, golden["tree_codes"])


def test_golden_molecules_are_varied(golden):
    # guards the file itself: distinct molecules, distinct latents, several tree branches
    assert len(set(golden["smiles"].tolist())) == 22
    assert len(np.unique(golden["embedding"][:, 1191:].round(4), axis=0)) == 22
    assert len(np.unique(golden["tree_codes"][:, 2])) >= 3
