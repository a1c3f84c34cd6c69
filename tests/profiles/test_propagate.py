"""Structure-aware propagation (MA): exact Tanimoto kNN, weights, clamped propagation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from chmr_sklearn.profiles import (
    ProfileTable,
    augmented_view,
    fill_missing,
    propagate,
    propagation_weights,
    tanimoto_knn,
)


@pytest.fixture(scope="module")
def wehi200(wehi_smiles):
    """200 real molecules: RDKit bit vectors and the same fingerprints as a numpy array."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    bitvects = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in wehi_smiles[:200]]
    arr = np.array([list(bv) for bv in bitvects], dtype=np.uint8)
    return bitvects, arr


@pytest.fixture(scope="module")
def drugbank_expression(l1000_drugbank, morgan):
    """Real L1000 profiles of DrugBank drugs aligned to those drugs' own fingerprints."""
    table = ProfileTable(l1000_drugbank, name="expression", inchikey_col="inchikey")
    first = l1000_drugbank.drop_duplicates("inchikey")
    fps = morgan(first["smiles"])
    X, observed = table.align(first["inchikey"].tolist())
    assert observed.all()
    return fps, X


# ----------------------------------------------------------------------------- tanimoto_knn
def test_tanimoto_knn_matches_rdkit_bruteforce(wehi200):
    bitvects, arr = wehi200
    k = 10
    idx, sims = tanimoto_knn(arr, k=k)
    assert idx.shape == (200, k) and idx.dtype == np.int64 and sims.dtype == np.float32
    for i, bv in enumerate(bitvects):
        ref = np.array(DataStructs.BulkTanimotoSimilarity(bv, bitvects))
        ref[i] = -np.inf  # self excluded
        order = np.argsort(-ref, kind="stable")[:k]  # ties -> smaller index first
        np.testing.assert_allclose(sims[i], ref[order], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ref[idx[i]], sims[i], rtol=0, atol=1e-6)
        assert idx[i].tolist() == order.tolist()
        assert i not in idx[i]


def test_tanimoto_knn_independent_of_chunk_size_and_dtype(wehi_smiles, morgan):
    fps = morgan(wehi_smiles[200:900])
    idx, sims = tanimoto_knn(fps, k=7)
    for chunk in (50, 333):
        i2, s2 = tanimoto_knn(fps.astype(np.float64), k=7, chunk_size=chunk)
        np.testing.assert_array_equal(i2, idx)
        np.testing.assert_array_equal(s2, sims)
    assert np.all(np.diff(sims, axis=1) <= 0)  # sorted by decreasing similarity


def test_tanimoto_knn_duplicates_and_padding(wehi200):
    _, arr = wehi200
    fps = np.vstack([arr[:2], arr[:1]])  # molecule 0 twice
    idx, sims = tanimoto_knn(fps, k=4)
    assert idx[0, 0] == 2 and sims[0, 0] == 1.0 and idx[2, 0] == 0
    # n - 1 = 2 < k = 4: two padded slots per row
    assert (idx[:, 2:] == -1).all() and (sims[:, 2:] == 0).all()
    assert tanimoto_knn(arr[:1], k=3)[0].tolist() == [[-1, -1, -1]]


def test_tanimoto_knn_rejects_bad_input(wehi200):
    _, arr = wehi200
    with pytest.raises(ValueError, match="binary"):
        tanimoto_knn(arr * 2, k=3)
    with pytest.raises(ValueError, match="2-D"):
        tanimoto_knn(arr[0], k=3)
    with pytest.raises(ValueError, match="positive integer"):
        tanimoto_knn(arr, k=0)
    with pytest.raises(ValueError, match="non-empty"):
        tanimoto_knn(np.zeros((0, 1024)), k=3)


# ----------------------------------------------------------------------------- weights
def test_propagation_weights_nonnegative_row_stochastic(wehi200):
    _, arr = wehi200
    idx, sims = tanimoto_knn(arr, k=10)
    W = propagation_weights(idx, sims)
    assert sp.issparse(W) and W.shape == (200, 200)
    assert (W.data > 0).all()
    assert W.diagonal().sum() == 0
    rows = np.flatnonzero(np.diff(W.indptr))
    np.testing.assert_allclose(np.asarray(W.sum(axis=1)).ravel()[rows], 1.0, rtol=1e-12)
    # weights are proportional to the similarities of the kept neighbours
    i = rows[0]
    keep = sims[i] > 0
    np.testing.assert_allclose(W[i, idx[i][keep]].toarray().ravel(), sims[i][keep] / sims[i][keep].sum())


def test_propagation_weights_drop_padding_zeros_and_self():
    idx = np.array([[1, -1, 0], [0, 2, -1], [0, 1, 2]])
    sims = np.array([[0.5, 0.0, 0.9], [0.0, 0.25, 0.0], [0.0, 0.0, 1.0]])
    W = propagation_weights(idx, sims).toarray()
    np.testing.assert_array_equal(W, [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match="same shape"):
        propagation_weights(idx, sims[:, :2])
    with pytest.raises(ValueError, match="lie in"):
        propagation_weights(np.array([[5]]), np.array([[1.0]]))


# ----------------------------------------------------------------------------- propagate
def _chain_W():
    # chain 0 - 1 - 2 - 3 with equal similarities
    return propagation_weights(np.array([[1, -1], [0, 2], [1, 3], [2, -1]]), np.ones((4, 2)))


def test_propagate_chain_hand_computed():
    W = _chain_W()
    X = np.array([[4.0, 0.0], [np.nan, np.nan], [np.nan, np.nan], [np.nan, np.nan]])
    observed = np.array([True, False, False, False])
    # step 1: [4, 2, 0, 0]; step 2: [4, 2, 1, 0]; step 3: [4, 2.5, 1, 1]
    out3 = propagate(X, observed, W, steps=3)
    np.testing.assert_allclose(out3[:, 0], [4.0, 2.5, 1.0, 1.0])
    # After 2 steps row 3 is still unreachable -> observed column mean (4, 0).
    out2 = propagate(X, observed, W, steps=2)
    np.testing.assert_allclose(out2, [[4, 0], [2, 0], [1, 0], [4, 0]])
    # Column 1 of the reached rows is a genuine propagated 0, not a "missing" 0.
    assert (out3[:, 1] == 0).all()
    # Zero steps: nothing reached, every missing row is the mean.
    np.testing.assert_allclose(propagate(X, observed, W, steps=0)[1:], [[4, 0]] * 3)


def test_propagate_two_observed_ends_clamped():
    W = _chain_W()
    X = np.array([[4.0], [9.0], [9.0], [-2.0]])
    observed = np.array([True, False, False, True])
    out = propagate(X, observed, W, steps=50)
    # harmonic interpolation between the clamped ends: x1 = (4 + x2)/2, x2 = (x1 - 2)/2
    np.testing.assert_allclose(out.ravel(), [4.0, 2.0, 0.0, -2.0], atol=1e-9)


def test_propagate_real_profiles_observed_rows_bit_exact(drugbank_expression):
    fps, X = drugbank_expression
    rng = np.random.default_rng(0)
    observed = rng.random(len(X)) < 0.2
    X_in = X.copy()
    X_in[~observed] = np.nan
    idx, sims = tanimoto_knn(fps, k=10)
    W = propagation_weights(idx, sims)
    out = propagate(X_in, observed, W, steps=5)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out[observed].tobytes() == X[observed].tobytes()  # bit-exact
    assert np.array_equal(X_in[observed], X[observed])  # input not modified
    # missing rows are sub-convex combinations of observed rows (and zeros) or the mean
    lo = np.minimum(X[observed].min(axis=0), 0) - 1e-4
    hi = np.maximum(X[observed].max(axis=0), 0) + 1e-4
    assert ((out >= lo) & (out <= hi)).all()
    # cut the out-edges of a few missing rows: they can no longer be reached and must get
    # exactly the observed mean (their neighbours are unaffected)
    isolated = np.flatnonzero(~observed)[:5]
    keep = np.ones(len(X))
    keep[isolated] = 0
    W_cut = sp.csr_matrix(sp.diags(keep) @ W)
    W_cut.eliminate_zeros()
    out_cut = propagate(X_in, observed, W_cut, steps=5)
    mean = X[observed].astype(np.float64).mean(axis=0).astype(np.float32)
    np.testing.assert_array_equal(out_cut[isolated], np.broadcast_to(mean, (isolated.size, X.shape[1])))
    assert not np.allclose(out[isolated], out_cut[isolated])
    assert out_cut[observed].tobytes() == X[observed].tobytes()
    # a missing row whose neighbours include an observed row differs from the mean
    informed = np.flatnonzero(~observed & np.asarray((W @ observed.astype(float)) > 0).ravel())
    assert informed.size > 0 and not np.allclose(out[informed[0]], mean)


def test_propagate_unreachable_component_gets_mean():
    # two components: {0, 1} with an observed row, {2, 3} without any
    W = propagation_weights(np.array([[1], [0], [3], [2]]), np.ones((4, 1)))
    X = np.array([[1.0, 2.0], [0, 0], [0, 0], [0, 0]])
    observed = np.array([True, False, False, False])
    out = propagate(X, observed, W)
    np.testing.assert_array_equal(out, [[1, 2], [1, 2], [1, 2], [1, 2]])
    X2 = np.array([[1.0, 2.0], [0, 0], [0, 0], [5.0, 6.0]])
    out2 = propagate(X2, np.array([True, False, False, True]), W)
    np.testing.assert_array_equal(out2[2], [5, 6])


def test_propagate_validation():
    W = _chain_W()
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="No observed row"):
        propagate(X, np.zeros(4, bool), W)
    with pytest.raises(ValueError, match="boolean"):
        propagate(X, np.array([1, 0, 0, 0]), W)
    with pytest.raises(ValueError, match="observed row"):
        propagate(np.full((4, 2), np.nan), np.array([True, False, False, False]), W)
    with pytest.raises(ValueError, match="non-negative"):
        propagate(X, np.ones(4, bool), -W)  # the official code's negative weights
    with pytest.raises(ValueError, match="shape"):
        propagate(X, np.ones(4, bool), sp.eye(3, format="csr"))


# ----------------------------------------------------------------------------- augmented view
def test_augmented_view_excludes_self(drugbank_expression):
    fps, X = drugbank_expression
    n = 300
    idx, sims = tanimoto_knn(fps[:n], k=10)
    W = propagation_weights(idx, sims)
    X = X[:n].astype(np.float64)
    observed = np.ones(n, bool)
    view = augmented_view(X, observed, W)
    has = np.diff(W.indptr) > 0
    np.testing.assert_allclose(view[has], (W @ X)[has])
    np.testing.assert_array_equal(view[~has], X[~has])
    # changing a row does not change its own view (only its neighbours')
    i = int(np.flatnonzero(has)[0])
    X2 = X.copy()
    X2[i] += 100.0
    view2 = augmented_view(X2, observed, W)
    np.testing.assert_array_equal(view2[i], view[i])
    # self loops in a hand-made W are ignored
    W_self = W + sp.eye(n, format="csr")
    np.testing.assert_allclose(augmented_view(X, observed, W_self)[has], view[has])
    with pytest.raises(ValueError, match="NaN"):
        augmented_view(np.full_like(X, np.nan), observed, W)


# ----------------------------------------------------------------------------- fill policies
def test_fill_missing_policies(drugbank_expression):
    fps, X = drugbank_expression
    n = 400
    X = X[:n]
    observed = np.zeros(n, bool)
    observed[::4] = True
    X_in = np.where(observed[:, None], X, np.nan).astype(np.float32)
    W = propagation_weights(*tanimoto_knn(fps[:n], k=10))
    mean = fill_missing(X_in, observed, "mean")
    zero = fill_missing(X_in, observed, "zero")
    prop = fill_missing(X_in, observed, "propagate", W=W)
    for out in (mean, zero, prop):
        assert out.shape == X.shape and np.isfinite(out).all()
        assert out[observed].tobytes() == X[observed].tobytes()
    np.testing.assert_allclose(mean[~observed], np.broadcast_to(X[observed].mean(axis=0), mean[~observed].shape), rtol=1e-5, atol=1e-5)
    assert (zero[~observed] == 0).all()
    np.testing.assert_array_equal(prop, propagate(X_in, observed, W))
    with pytest.raises(ValueError, match="needs W"):
        fill_missing(X_in, observed, "propagate")
    with pytest.raises(ValueError, match="method must be one of"):
        fill_missing(X_in, observed, "nearest")
    with pytest.raises(ValueError, match="No observed row"):
        fill_missing(X_in, np.zeros(n, bool), "mean")
    assert (fill_missing(X_in, np.zeros(n, bool), "zero") == 0).all()
