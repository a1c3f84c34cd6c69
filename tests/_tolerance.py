"""The documented float32 tolerance of embeddings, for tests that compare across batches or threads.

Bit-for-bit equality holds for the same computation repeated (same rows per forward pass, same
thread count). Across forward passes of different sizes, thread counts or processes it holds on
some CPUs only: MKL's AVX2 ``sgemm`` splits its work by size and thread count (AVX-512 does not,
on the machines seen here), which changes float32 rounding. Such comparisons use this tolerance.
"""

from __future__ import annotations

import numpy as np

# Max |a - b| over a row's entries, relative to the row's largest magnitude (entries near zero
# would make an entry-wise ratio meaningless).
FLOAT32_RTOL = 1e-5


def assert_consistent(a, b, tol: float = FLOAT32_RTOL) -> None:
    """Assert ``a`` and ``b`` (n, d) agree row by row within ``tol`` of each row's scale."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    scale = np.maximum(np.abs(b).max(axis=1, keepdims=True), 1e-12)
    worst = float((np.abs(a - b) / scale).max())
    assert worst <= tol, f"relative difference {worst:.2e} > {tol:.0e}"
