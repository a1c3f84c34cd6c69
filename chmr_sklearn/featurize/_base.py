"""Shared machinery of the molecule featurizers: input checks, parallel chunked parsing, NaN rows.

A featurizer subclasses :class:`MoleculeFeaturizer` and implements

* ``_featurize_chunk(entries) -> (rows, valid)``: parse the raw entries (inside a worker) and
  return one row per entry plus a validity mask;
* ``get_feature_names_out()``.

The base class turns these into a stateless sklearn transformer: ``fit`` records the input's
shape, ``transform`` parses in ``n_jobs`` workers (only numpy arrays travel back), applies the
``on_invalid`` policy, and shows a tqdm bar when ``verbose``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, Sequence

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from tqdm.auto import tqdm

from .._inputs import MoleculeColumn, check_molecule_input, raise_for_invalid
from .._signals import reinstate_sigint_handler

__all__ = ["MoleculeFeaturizer", "map_chunks"]

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
        Called on each chunk (a slice of ``values``); must be picklable when ``n_jobs != 1``.
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
        if workers == 1 or len(bounds) == 1:
            for start, stop in bounds:
                results.append(func(values[start:stop]))
                bar.update(stop - start)
        else:
            gen = Parallel(n_jobs=workers, return_as="generator")(
                delayed(func)(values[start:stop]) for start, stop in bounds
            )
            for (start, stop), result in zip(bounds, gen):
                results.append(result)
                bar.update(stop - start)
    finally:
        bar.close()
        # RDKit's conformer code leaves its own SIGINT handler installed, which would swallow
        # the next Ctrl-C (e.g. during a head fit that follows the embedding).
        reinstate_sigint_handler()
    return results


class MoleculeFeaturizer(TransformerMixin, BaseEstimator):
    """Base class of the stateless molecule featurizers (not used directly)."""

    _parameter_constraints: dict = {
        "smiles_col": [str, Integral],
        "on_invalid": [StrOptions({"raise", "nan"})],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    # ---- to implement ---------------------------------------------------------------------
    def _featurize_chunk(self, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(rows, valid)`` for a chunk of raw entries (runs inside a worker)."""
        raise NotImplementedError

    def get_feature_names_out(self, input_features=None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # ---- sklearn API ----------------------------------------------------------------------
    def fit(self, X, y=None):
        """Record the input's shape; featurizers learn nothing.

        Molecules are parsed (and invalid ones reported) in :meth:`transform`, so that
        ``fit_transform`` parses each molecule once.

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_input(X, reset=True)
        return self

    def transform(self, X) -> np.ndarray:
        """Featurize the molecules of ``X``; one output row per input row, in order.

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            Invalid rows are NaN when ``on_invalid="nan"``.

        Raises
        ------
        InvalidMoleculeError
            When ``on_invalid="raise"`` and some rows are invalid (all of them are listed).
        """
        self._validate_params()
        column = self._check_input(X, reset=False)
        chunks = map_chunks(
            self._featurize_chunk, column.values, n_jobs=self.n_jobs, verbose=self.verbose,
            desc=type(self).__name__,
        )
        valid = np.concatenate([v for _, v in chunks])
        raise_for_invalid(valid, column.values, self.on_invalid)
        return self._assemble([rows for rows, _ in chunks], valid)

    def _assemble(self, parts: Sequence[np.ndarray], valid: np.ndarray) -> np.ndarray:
        out = np.concatenate(parts).astype(np.float32 if self._float32 else np.float64, copy=False)
        if not valid.all():
            out[~valid] = np.nan
        return out

    _float32 = False

    def _check_input(self, X, *, reset: bool) -> MoleculeColumn:
        return check_molecule_input(self, X, reset=reset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.two_d_array = True
        tags.requires_fit = False
        tags.target_tags.required = False
        return tags
