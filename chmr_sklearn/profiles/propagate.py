"""Structure-aware modality augmentation (MA): kNN propagation of biological profiles.

Most molecules have no measured profile (>90 % missing is normal). CHMR fills a missing
profile from the profiles of structurally similar molecules: build a k-nearest-neighbour
graph on the Tanimoto similarity of the molecules' fingerprints, then diffuse the observed
rows over it.

Deliberate differences from the official CHMR code (``dataset/data_augmentation.py``, see
``reference/chmr_method.md`` §1.3):

* weights are the Tanimoto similarities themselves (non-negative); the official code uses
  ``1 - squared L2`` from an HNSW index, which is negative on binary fingerprints, so its
  L1-normalised rows sum to -1 and odd step counts flip the sign of the features;
* observed rows are **clamped** back to their measured values after every step (the official
  ``X[known] = X[known]`` is a no-op, so measured profiles were overwritten);
* rows that no observed row can reach are detected by explicit reachability and get the
  observed column mean (the official code tests for all-zero rows, which misfires on rows
  whose true estimate is zero);
* neighbours are exact (brute force by blocked matrix products), not approximate (HNSW).

Examples
--------
>>> import numpy as np
>>> fps = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1]], dtype=np.uint8)
>>> idx, sims = tanimoto_knn(fps, k=2)
>>> idx[0].tolist(), [round(float(s), 3) for s in sims[0]]
([1, 2], [0.667, 0.0])
>>> W = propagation_weights(idx, sims)
>>> X = np.array([[1.0], [np.nan], [np.nan]])
>>> observed = np.array([True, False, False])
>>> propagate(X, observed, W, steps=3).round(3).ravel().tolist()
[1.0, 0.926, 0.727]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._topk import blocked_topk

__all__ = [
    "tanimoto_knn",
    "propagation_weights",
    "propagate",
    "augmented_view",
    "fill_missing",
    "propagation_confidence",
    "FILL_METHODS",
]

FILL_METHODS = ("propagate", "mean", "zero")

# Tiles are block x block float32; 2048 -> 16 MiB per tile buffer.
_DEFAULT_BLOCK = 2048


def _check_binary_fps(fps: np.ndarray) -> np.ndarray:
    fps = np.asarray(fps)
    if fps.ndim != 2:
        raise ValueError(f"fps must be a 2-D (n_molecules, n_bits) array, got shape {fps.shape}.")
    if fps.shape[0] == 0 or fps.shape[1] == 0:
        raise ValueError(f"fps must be non-empty, got shape {fps.shape}.")
    if fps.dtype != bool:
        bad = ~((fps == 0) | (fps == 1))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(
                f"fps must be binary (0/1); found {int(bad.sum())} other value(s), "
                f"first at row {r}, column {c}: {fps[r, c]!r}."
            )
    return fps.astype(np.float32)


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return int(k)


def tanimoto_knn(
    fps: np.ndarray, k: int = 10, chunk_size: int = _DEFAULT_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Tanimoto k-nearest neighbours of binary fingerprints, self excluded.

    The Tanimoto similarity ``|a & b| / |a | b|`` is computed exactly: intersections are a
    float32 matrix product of 0/1 matrices (integers, exact up to 2**24 bits), in
    ``chunk_size x chunk_size`` tiles over the upper triangle only (the similarity is
    symmetric). Two all-zero fingerprints have similarity 0 (as in RDKit).

    Parameters
    ----------
    fps : ndarray of shape (n_molecules, n_bits)
        Binary fingerprints (bool or 0/1 numbers), e.g. Morgan radius 2, 1024 bits.
    k : int, default=10
        Neighbours per molecule.
    chunk_size : int, default=2048
        Tile side; peak extra memory is about ``3 * chunk_size**2 * 4`` bytes.

    Returns
    -------
    indices : ndarray of int64, shape (n_molecules, k)
        Neighbours by decreasing similarity; ties broken by the **smaller index**, so the
        result is deterministic and independent of ``chunk_size``. When ``n_molecules - 1 < k``
        the missing slots hold ``-1``.
    sims : ndarray of float32, shape (n_molecules, k)
        The Tanimoto similarities (0 in padded slots). Neighbours with similarity 0 are still
        listed; :func:`propagation_weights` drops them.

    Examples
    --------
    >>> fps = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1]], dtype=bool)
    >>> idx, sims = tanimoto_knn(fps, k=3)
    >>> idx.tolist()
    [[2, 1, -1], [0, 2, -1], [0, 1, -1]]
    >>> sims[0].tolist()
    [1.0, 0.5, 0.0]
    """
    A = _check_binary_fps(fps)
    k = _check_k(k)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    A = np.ascontiguousarray(A)
    counts = A.sum(axis=1)
    n = A.shape[0]
    block = int(min(chunk_size, n))
    buf = np.empty((block, block), dtype=np.float32)
    ubuf = np.empty((block, block), dtype=np.float32)

    def tile(i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
        inter = buf[: i1 - i0, : j1 - j0]
        union = ubuf[: i1 - i0, : j1 - j0]
        np.matmul(A[i0:i1], A[j0:j1].T, out=inter)
        np.add(counts[i0:i1, None], counts[None, j0:j1], out=union)
        union -= inter
        np.maximum(union, 1.0, out=union)  # both empty -> 0 / 1 = 0
        inter /= union
        return inter

    return blocked_topk(n, k, tile, block=block)


def propagation_weights(indices: np.ndarray, sims: np.ndarray) -> sp.csr_matrix:
    """Row-stochastic propagation matrix from a kNN list.

    Parameters
    ----------
    indices : ndarray of int, shape (n, k)
        Neighbour indices (``-1`` = padding), as returned by :func:`tanimoto_knn`.
    sims : ndarray of float, shape (n, k)
        Similarities, used directly as weights.

    Returns
    -------
    W : scipy.sparse.csr_matrix of float64, shape (n, n)
        ``W[i, j] = sims[i, j'] / sum`` over the kept neighbours of ``i``. Padding, zero and
        negative similarities and self loops are dropped, so every stored weight is > 0 and
        every non-empty row sums to 1; a row with no kept neighbour is empty.

    Examples
    --------
    >>> W = propagation_weights(np.array([[1, -1], [0, 1]]), np.array([[0.5, 0.0], [0.2, 0.9]]))
    >>> W.toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    indices = np.asarray(indices)
    sims = np.asarray(sims, dtype=np.float64)
    if indices.ndim != 2 or indices.shape != sims.shape:
        raise ValueError(
            f"indices and sims must be 2-D arrays of the same shape, got {indices.shape} and {sims.shape}."
        )
    n = indices.shape[0]
    if indices.size and (indices.max() >= n or indices.min() < -1):
        raise ValueError(f"indices must lie in [-1, {n - 1}], got range [{indices.min()}, {indices.max()}].")
    rows = np.repeat(np.arange(n), indices.shape[1])
    cols = indices.ravel().astype(np.int64)
    vals = sims.ravel()
    if not np.all(np.isfinite(vals)):
        raise ValueError("sims contains NaN or infinite values.")
    # Only positive similarity edges carry information; the official code's negative weights
    # (1 - squared L2 distance) are exactly what we must not produce.
    keep = (cols >= 0) & (vals > 0) & (cols != rows)
    W = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, n))
    W.sum_duplicates()
    row_sums = np.asarray(W.sum(axis=1)).ravel()
    scale = np.divide(1.0, row_sums, out=np.zeros_like(row_sums), where=row_sums > 0)
    W = sp.csr_matrix(sp.diags(scale) @ W)
    W.eliminate_zeros()
    return W


def _check_propagation_inputs(X, observed, W=None):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_molecules, n_features), got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(f"X must be a real numeric array, got dtype {X.dtype}.")
    observed = np.asarray(observed)
    if observed.dtype != bool:
        raise ValueError(f"observed must be a boolean mask, got dtype {observed.dtype}.")
    if observed.shape != (X.shape[0],):
        raise ValueError(f"observed must have shape ({X.shape[0]},), got {observed.shape}.")
    if observed.any() and not np.all(np.isfinite(X[observed])):
        bad = np.flatnonzero(~np.all(np.isfinite(X[observed]), axis=1))
        rows = np.flatnonzero(observed)[bad]
        raise ValueError(
            f"{len(rows)} observed row(s) contain NaN or infinite values (first: {rows[:5].tolist()})."
        )
    if W is not None:
        W = sp.csr_matrix(W)
        if W.shape != (X.shape[0], X.shape[0]):
            raise ValueError(f"W must have shape ({X.shape[0]}, {X.shape[0]}), got {W.shape}.")
        if W.nnz and (not np.all(np.isfinite(W.data)) or W.data.min() < 0):
            raise ValueError("W must have finite, non-negative weights (see propagation_weights).")
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    return X, observed, W, dtype


def propagate(X: np.ndarray, observed: np.ndarray, W: sp.spmatrix, steps: int = 5) -> np.ndarray:
    """Fill missing rows by ``steps`` rounds of ``X <- W @ X`` with observed rows clamped.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Profile matrix; the content of missing rows is ignored (NaN is fine).
    observed : ndarray of bool, shape (n,)
        ``True`` where the row is measured.
    W : sparse matrix of shape (n, n)
        Non-negative propagation weights, usually :func:`propagation_weights`.
    steps : int, default=5
        Number of propagation rounds (the official T = 5).

    Returns
    -------
    ndarray of shape (n, d)
        Same float dtype as ``X`` (float64 for integer input). Observed rows are returned
        bit-for-bit unchanged. A missing row that reaches an observed row within ``steps``
        hops gets its propagated value; a missing row that reaches none gets the column mean
        of the observed rows (reachability is tracked explicitly, not guessed from zeros).

    Raises
    ------
    ValueError
        If no row is observed, or on malformed inputs.

    Examples
    --------
    A chain 0 - 1 - 2 - 3 where only row 0 is observed; row 3 is 3 hops away:

    >>> W = propagation_weights(np.array([[1], [0], [1], [2]]), np.ones((4, 1)))
    >>> X = np.array([[2.0], [0], [0], [0]])
    >>> propagate(X, np.array([True, False, False, False]), W, steps=2).ravel().tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    X, observed, W, dtype = _check_propagation_inputs(X, observed, W)
    if W is None:
        raise ValueError("propagate needs the weight matrix W (see propagation_weights).")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}.")
    if not observed.any():
        raise ValueError("No observed row: there is nothing to propagate.")
    known = X[observed].astype(dtype, copy=False)
    out = np.zeros(X.shape, dtype=dtype)
    out[observed] = known
    Wd = W.astype(dtype)
    # Boolean reachability: a missing row is informed once a path of positive weights links it
    # to an observed row. Tracked on the pattern of W, independent of the feature values.
    pattern = sp.csr_matrix(((W.data > 0).astype(np.float64), W.indices, W.indptr), shape=W.shape)
    reached = observed.copy()
    for _ in range(int(steps)):
        out = np.asarray(Wd @ out, dtype=dtype)
        out[observed] = known  # clamp: measured profiles are never overwritten (bit-exact)
        reached = reached | (pattern @ reached.astype(np.float64) > 0)
    unreached = ~reached
    if unreached.any():
        out[unreached] = known.mean(axis=0, dtype=np.float64).astype(dtype)
    return out


def propagation_confidence(observed: np.ndarray, W: sp.spmatrix, steps: int = 5) -> np.ndarray:
    """How much of each row's propagated profile comes from measured rows, in [0, 1].

    :func:`propagate` applied to the indicator of the observed rows, except that rows never
    reached keep 0 instead of getting the mean: 1 for observed rows, the propagated share of
    observed mass for the others (with L1-normalised weights, 1 when every ``steps``-hop path
    ends on a measured row).

    Examples
    --------
    Row 2 averages an observed and an unobserved neighbour; row 3 is unreachable:

    >>> W = propagation_weights(np.array([[1, 2], [0, 2], [0, 1], [3, 3]]), np.ones((4, 2)))
    >>> propagation_confidence(np.array([True, False, False, False]), W, steps=1).tolist()
    [1.0, 0.5, 0.5, 0.0]
    """
    observed = np.asarray(observed, dtype=bool)
    conf = observed.astype(np.float64)
    Wd = W.astype(np.float64)
    for _ in range(int(steps)):
        conf = np.asarray(Wd @ conf).ravel()
        conf[observed] = 1.0
    return np.clip(conf, 0.0, 1.0)


def augmented_view(X_filled: np.ndarray, observed: np.ndarray, W: sp.spmatrix) -> np.ndarray:
    """Structure-aware augmented view: every row replaced by its neighbours' estimate.

    For row ``i`` the view is ``(W @ X_filled)[i]``, a weighted average over its neighbours
    only (``W`` has no self loops), so an observed row's view never contains its own
    measurement. This is the second view of the VICReg term of SCA.

    Parameters
    ----------
    X_filled : ndarray of shape (n, d)
        Profiles with no missing values, usually the output of :func:`propagate`.
    observed : ndarray of bool, shape (n,)
        Availability mask; validated against ``X_filled`` (the view is computed for every
        row, observed or not; callers usually keep the observed rows' views).
    W : sparse matrix of shape (n, n)
        Non-negative weights, e.g. :func:`propagation_weights`. Diagonal entries, if any,
        are ignored.

    Returns
    -------
    ndarray of shape (n, d)
        Rows with no neighbour keep their ``X_filled`` value.

    Examples
    --------
    >>> W = propagation_weights(np.array([[1], [0], [-1]]), np.array([[1.0], [1.0], [0.0]]))
    >>> augmented_view(np.array([[1.0], [3.0], [5.0]]), np.ones(3, bool), W).ravel().tolist()
    [3.0, 1.0, 5.0]
    """
    X, observed, W, dtype = _check_propagation_inputs(X_filled, observed, W)
    if W is None:
        raise ValueError("augmented_view needs the weight matrix W.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X_filled must not contain NaN or infinite values; fill it first.")
    C = W.tocoo()
    keep = (C.row != C.col) & (C.data != 0)  # the view of a row must not contain the row itself
    W = sp.csr_matrix((C.data[keep], (C.row[keep], C.col[keep])), shape=W.shape)
    out = np.asarray(W.astype(dtype) @ X.astype(dtype, copy=False), dtype=dtype)
    lonely = np.diff(W.indptr) == 0
    out[lonely] = X[lonely]
    return out


def fill_missing(
    X: np.ndarray,
    observed: np.ndarray,
    method: str = "propagate",
    W: sp.spmatrix | None = None,
    steps: int = 5,
) -> np.ndarray:
    """Fill the missing rows of a profile matrix; observed rows are never changed.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Profiles; missing rows may hold anything (NaN is fine).
    observed : ndarray of bool, shape (n,)
    method : {"propagate", "mean", "zero"}, default="propagate"
        ``"propagate"``: :func:`propagate` over ``W`` (required); ``"mean"``: column mean of
        the observed rows (the official code's default input); ``"zero"``: zeros.
    W : sparse matrix of shape (n, n), optional
        Needed by ``"propagate"`` only.
    steps : int, default=5
        Propagation rounds.

    Returns
    -------
    ndarray of shape (n, d)

    Raises
    ------
    ValueError
        Unknown ``method``; ``"propagate"`` without ``W``; ``"propagate"`` or ``"mean"`` with
        no observed row.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0]])
    >>> obs = np.array([True, False, True])
    >>> fill_missing(X, obs, "mean")[1].tolist(), fill_missing(X, obs, "zero")[1].tolist()
    ([2.0, 3.0], [0.0, 0.0])
    """
    if method not in FILL_METHODS:
        raise ValueError(f"method must be one of {FILL_METHODS}, got {method!r}.")
    if method == "propagate":
        if W is None:
            raise ValueError("method='propagate' needs W (see tanimoto_knn and propagation_weights).")
        return propagate(X, observed, W, steps=steps)
    X, observed, _, dtype = _check_propagation_inputs(X, observed)
    out = np.zeros(X.shape, dtype=dtype)
    out[observed] = X[observed]
    if method == "mean":
        if not observed.any():
            raise ValueError("No observed row: cannot compute a column mean.")
        out[~observed] = X[observed].mean(axis=0, dtype=np.float64).astype(dtype)
    return out
