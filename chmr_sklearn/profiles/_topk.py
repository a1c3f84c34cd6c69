"""Exact, deterministic top-k neighbour search over a symmetric similarity, block by block.

Shared by :func:`chmr_sklearn.profiles.propagate.tanimoto_knn` (Tanimoto on fingerprints) and
:mod:`chmr_sklearn.profiles.context_graph` (cosine on profile rows).

The similarity matrix is never materialised: it is computed in ``block x block`` tiles by a
matrix product, and only the upper triangle of tiles is computed (the similarity is
symmetric, so tile ``(I, J)`` also serves the rows of ``J`` through its transpose). Each row
keeps a running top-k that is merged with every tile's top-k.

Order and ties: neighbours are ranked by decreasing similarity, then by **increasing index**.
Selection is exact under that total order, so the result does not depend on the block size or
on the selection backend (``torch.topk`` when torch imports, ``numpy.argpartition`` otherwise).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["blocked_topk"]

_TORCH = None  # lazily imported torch module, or False when unavailable


def _torch():
    global _TORCH
    if _TORCH is None:
        try:
            import torch

            _TORCH = torch
        except Exception:  # pragma: no cover - torch is a hard dependency of the package
            _TORCH = False
    return _TORCH


def _tile_topk(S: np.ndarray, k: int, col_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of every row of ``S`` under (similarity desc, column asc); exact with ties.

    Returns global column indices (``col_offset`` added) and values, both (rows, k),
    in no particular order within a row (the caller sorts after merging).
    """
    rows, ncols = S.shape
    k = min(k, ncols)
    torch = _torch()
    # torch.topk is ~30x faster than numpy.argpartition on these tiles (measured 2048x10000:
    # 20 ms vs 650 ms); both only give *a* top-k set, the tie fix below makes it exact.
    if torch:
        vals, idx = torch.topk(torch.from_numpy(S), k, dim=1, largest=True, sorted=False)
        vals, idx = vals.numpy(), idx.numpy().astype(np.int64)
    else:
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k].astype(np.int64)
        vals = np.take_along_axis(S, idx, axis=1)
    kth = vals.min(axis=1)
    # Rows where more than k entries reach the k-th value have a tie at the boundary: the
    # backend picked an arbitrary subset of the tied columns; re-pick the smallest indices.
    tied = np.flatnonzero((S >= kth[:, None]).sum(axis=1) > k)
    if tied.size:
        sub = S[tied]
        t = kth[tied][:, None]
        greater = sub > t
        need = k - greater.sum(axis=1)
        equal = sub == t
        take = greater | (equal & (np.cumsum(equal, axis=1) <= need[:, None]))
        r, c = np.nonzero(take)  # row-major: exactly k per row
        c = c.reshape(len(tied), k)
        idx[tied] = c
        vals[tied] = np.take_along_axis(sub, c, axis=1)
    return idx + col_offset, vals


def _transposed(S: np.ndarray) -> np.ndarray:
    """Contiguous transpose (torch's blocked copy is ~3x faster than numpy's here)."""
    torch = _torch()
    if torch:
        return torch.from_numpy(S).T.contiguous().numpy()
    return np.ascontiguousarray(S.T)


def _merge(best_i, best_v, new_i, new_v, k):
    """Keep the top-k of the union of two candidate sets (disjoint indices), sorted."""
    cand_i = np.concatenate([best_i, new_i], axis=1)
    cand_v = np.concatenate([best_v, new_v], axis=1)
    # Sort by value desc, then index asc; -1 padding (value -inf) sorts last.
    order = np.lexsort((cand_i, -cand_v), axis=1)[:, :k]
    return np.take_along_axis(cand_i, order, axis=1), np.take_along_axis(cand_v, order, axis=1)


def blocked_topk(
    n: int,
    k: int,
    tile: Callable[[int, int, int, int], np.ndarray],
    block: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours (self excluded) of ``n`` items under a symmetric similarity.

    Parameters
    ----------
    n : int
        Number of items.
    k : int
        Neighbours per item.
    tile : callable
        ``tile(i0, i1, j0, j1)`` returns the float32 similarity block of rows ``i0:i1`` against
        rows ``j0:j1`` (a fresh or reusable array; it is modified in place).
    block : int, default=2048
        Tile side. Memory is O(block**2 + n*k).

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
        Sorted by decreasing similarity, ties by increasing index; ``-1`` pads rows with fewer
        than ``k`` other items.
    sims : ndarray of float32, shape (n, k)
        Similarities; 0 where padded.
    """
    best_i = np.full((n, k), -1, dtype=np.int64)
    best_v = np.full((n, k), -np.inf, dtype=np.float32)
    starts = list(range(0, n, block))
    for a in starts:
        a1 = min(a + block, n)
        for b in starts:
            if b < a:
                continue
            b1 = min(b + block, n)
            S = np.asarray(tile(a, a1, b, b1), dtype=np.float32)
            if a == b:
                np.fill_diagonal(S, -np.inf)  # self is never its own neighbour
            i, v = _tile_topk(S, k, b)
            best_i[a:a1], best_v[a:a1] = _merge(best_i[a:a1], best_v[a:a1], i, v, k)
            if b != a:
                # Same tile, transposed, serves the rows of block b (symmetry halves the work).
                i, v = _tile_topk(_transposed(S), k, a)
                best_i[b:b1], best_v[b:b1] = _merge(best_i[b:b1], best_v[b:b1], i, v, k)
    pad = ~np.isfinite(best_v)  # only possible when n - 1 < k (or self picked as filler)
    best_i[pad] = -1
    best_v[pad] = 0.0
    return best_i, best_v
