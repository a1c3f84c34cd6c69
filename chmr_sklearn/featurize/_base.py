"""Shared machinery of the molecule featurizers: input checks, parallel chunked parsing, NaN rows.

A featurizer subclasses :class:`MoleculeFeaturizer` and implements

* ``_featurize_chunk(entries) -> (rows, valid)``: parse the raw entries (inside a worker) and
  return one row per entry plus a validity mask;
* ``get_feature_names_out()``.

The base class turns these into a stateless sklearn transformer: ``fit`` records the input's
shape, ``transform`` parses in ``n_jobs`` workers (:func:`~._chunks.map_chunks`: forked from
this process on Linux, joblib's elsewhere; only numpy arrays travel back), applies the
``on_invalid`` policy, and shows a tqdm bar when ``verbose``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions

from .._inputs import MoleculeColumn, check_molecule_input, raise_for_invalid
from ._chunks import map_chunks

__all__ = ["MoleculeFeaturizer"]


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
