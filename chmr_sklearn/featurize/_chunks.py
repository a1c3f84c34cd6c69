"""Chunked, optionally parallel mapping over molecules (no scikit-learn: workers import this).

On Linux the workers are forked from this process for each call (:mod:`chmr_sklearn._workers`):
they inherit RDKit and the molecules, and start in milliseconds. Elsewhere, or under another
joblib backend, joblib's worker processes import only what they run: this module, RDKit, numpy
and the per-molecule code of :mod:`._fingerprint_bits`, :mod:`._molgraph` and
:mod:`._conformer_descriptors`. Keeping scikit-learn (and through it SciPy) and pandas out of
that path saves about a second of every such worker's start-up.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from tqdm.auto import tqdm

from .._signals import reinstate_sigint_handler
from .._workers import GATE, can_fork, forked_imap

__all__ = ["map_chunks"]

_MIN_CHUNK = 64


def _chunk_bounds(n: int, n_workers: int) -> list[tuple[int, int]]:
    # ~8 chunks per worker balances load without drowning in scheduling overhead.
    size = max(_MIN_CHUNK, -(-n // max(1, n_workers * 8)))
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def map_chunks(
    func: Callable[[np.ndarray], Any],
    values: np.ndarray,
    *,
    n_jobs: int | None = None,
    verbose: int | bool = 0,
    desc: str = "molecules",
) -> list[Any]:
    """Apply ``func`` to consecutive chunks of ``values``, in order, optionally in parallel.

    Parameters
    ----------
    func : callable
        Called on each chunk (a slice of ``values``); must be picklable when ``n_jobs != 1``
        and the workers cannot be forked.
    values : ndarray of object
        The raw entries.
    n_jobs : int or None
        joblib semantics: ``None`` or 1 runs in this process, -1 uses every core.
    verbose : int or bool
        Show a tqdm progress bar counting molecules.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        ``func``'s results, one per chunk, in input order.
    """
    workers = effective_n_jobs(n_jobs)
    bounds = _chunk_bounds(len(values), workers)
    bar = tqdm(total=len(values), desc=desc, unit="mol", disable=not verbose)
    results = []
    try:
        for (start, stop), result in zip(bounds, _run(func, values, bounds, workers)):
            results.append(result)
            bar.update(stop - start)
    finally:
        bar.close()
        # RDKit's conformer code leaves its own SIGINT handler installed, which would swallow
        # the next Ctrl-C (e.g. during a head fit that follows the embedding).
        reinstate_sigint_handler()
    return results


def _run(func: Callable[[np.ndarray], Any], values: np.ndarray, bounds: list[tuple[int, int]], workers: int):
    """``func`` of each chunk in order: here, in forked workers, or in joblib's."""
    if workers == 1 or len(bounds) == 1:
        with GATE.computing():  # no other thread forks meanwhile
            yield from (func(values[a:b]) for a, b in bounds)
    elif can_fork():  # the workers inherit func and the molecules
        yield from forked_imap(lambda a, b: func(values[a:b]), bounds, workers)
    else:
        yield from Parallel(n_jobs=workers, return_as="generator")(delayed(func)(values[a:b]) for a, b in bounds)
