"""Input policy shared by every estimator: what counts as a molecule, what is invalid.

Every public estimator accepts

* a 1-D list / tuple / ``numpy.ndarray`` / ``pandas.Series`` / ``pandas.Index`` of SMILES
  strings or RDKit ``Mol`` objects,
* a 2-D ``numpy.ndarray`` whose column ``smiles_col`` (an int; the first column otherwise)
  holds the molecules,
* a ``pandas.DataFrame`` with a ``smiles_col`` column (or a single column).

``None``, NaN, empty or blank strings, non-string objects and strings RDKit cannot parse are
*invalid*.  With ``on_invalid="raise"`` (the default) one :class:`InvalidMoleculeError` names
every invalid row; with ``on_invalid="nan"`` the row is kept and its output is NaN.  Rows are
never dropped or reordered.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence

import numpy as np
from rdkit import Chem, rdBase

__all__ = [
    "InvalidMoleculeError",
    "MoleculeColumn",
    "molecule_column",
    "to_mol",
    "to_smiles",
    "raise_for_invalid",
    "ON_INVALID_OPTIONS",
    "check_molecule_input",
]

ON_INVALID_OPTIONS = ("raise", "nan")
_MAX_LISTED = 50  # rows spelled out in an error message; the count is always complete
_MAX_CHARS = 40  # characters of each bad entry shown


class InvalidMoleculeError(ValueError):
    """Raised when some input rows are not valid molecules.

    Attributes
    ----------
    rows : list of int
        Positional indices (0-based) of **every** invalid row.

    Examples
    --------
    >>> try:
    ...     raise_for_invalid(np.array([True, False, False]), ["CCO", "xyz", None], "raise")
    ... except InvalidMoleculeError as err:
    ...     print(err.rows, isinstance(err, ValueError))
    ...     print(err)
    [1, 2] True
    2 invalid molecule(s) out of 3 at row(s) [1: 'xyz', 2: None]. Fix or remove them, or pass
    on_invalid='nan' to get NaN rows.
    """

    def __init__(self, rows: Sequence[int], entries: Sequence[Any]):
        self.rows = [int(r) for r in rows]
        shown = ", ".join(
            f"{r}: {_short(entries[r])}" for r in self.rows[:_MAX_LISTED]
        )
        more = "" if len(self.rows) <= _MAX_LISTED else f", ... ({len(self.rows) - _MAX_LISTED} more)"
        super().__init__(
            f"{len(self.rows)} invalid molecule(s) out of {len(entries)} at row(s) "
            f"[{shown}{more}]. Fix or remove them, or pass on_invalid='nan' to get NaN rows."
        )


def _short(entry: Any) -> str:
    if isinstance(entry, Chem.Mol):
        return "<rdkit Mol>"
    text = repr(entry)
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 3] + "..."


class MoleculeColumn:
    """The molecules of an input, as a 1-D object array, plus its sklearn shape facts.

    Parameters
    ----------
    values : ndarray of object, shape (n_samples,)
        The raw entries (SMILES strings, Mol objects or anything invalid), in input order.
    n_features : int
        Number of columns of the original input (1 for a 1-D input).
    feature_names : ndarray of str or None
        Column names when the input was a DataFrame.
    index : pandas.Index or None
        The input's index when it was a pandas object (kept for pandas output).

    Examples
    --------
    >>> import pandas as pd
    >>> col = molecule_column(pd.DataFrame({"smiles": ["CCO", "CCN"]}, index=[10, 11]))
    >>> col.values.tolist(), col.n_features, col.feature_names.tolist(), col.index.tolist()
    (['CCO', 'CCN'], 1, ['smiles'], [10, 11])
    """

    def __init__(self, values, n_features, feature_names=None, index=None):
        self.values = values
        self.n_features = n_features
        self.feature_names = feature_names
        self.index = index

    def __len__(self) -> int:
        return len(self.values)


def molecule_column(X: Any, smiles_col: str | int | None = "smiles") -> MoleculeColumn:
    """Extract the molecule column of ``X`` without parsing anything.

    Parameters
    ----------
    X : array-like or DataFrame
        See the module docstring for the accepted forms.
    smiles_col : str or int, default="smiles"
        Column holding the molecules in a DataFrame (by name) or 2-D array (by position).

    Returns
    -------
    MoleculeColumn

    Raises
    ------
    ValueError
        For a single string or Mol (wrap it in a list), an empty input, input with more than
        two dimensions, or a DataFrame without the column.

    Examples
    --------
    >>> col = molecule_column(["CCO", "c1ccccc1"])
    >>> len(col), col.n_features
    (2, 1)
    """
    if isinstance(X, (str, bytes, Chem.Mol)):
        raise ValueError(
            "Expected a 1-D collection of molecules, got a single "
            f"{type(X).__name__}; wrap it in a list, e.g. [{_short(X)}]."
        )
    # pandas is not imported here: worker processes parse SMILES without paying for it, and
    # an input can only be a pandas object if the caller imported pandas.
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, pd.DataFrame):
        column = _frame_column(X, smiles_col)
    elif isinstance(X, (dict, set, frozenset)):
        # a dict iterates over its keys and a set has no order: rows could not match the input
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError throughout the package
            f"Expected molecules as a list, array, Series or DataFrame; got a {type(X).__name__}"
            + (" (pass pd.DataFrame(X) for a dict of columns)." if isinstance(X, dict) else "."))
    elif pd is not None and isinstance(X, (pd.Series, pd.Index)):
        column = MoleculeColumn(X.to_numpy(dtype=object), 1, None, X.index if isinstance(X, pd.Series) else None)
    else:
        column = _array_column(X, smiles_col)
    if len(column) == 0:
        raise ValueError("Found 0 molecules (empty input); at least one is required.")
    return column


def _frame_column(X: Any, smiles_col: str | int | None) -> MoleculeColumn:
    """The molecule column of a DataFrame: by name, by position, or its only column."""
    names = np.asarray(X.columns, dtype=object)
    if isinstance(smiles_col, str) and smiles_col in X.columns:
        values = X[smiles_col].to_numpy(dtype=object)
    elif isinstance(smiles_col, int) and not isinstance(smiles_col, bool) and 0 <= smiles_col < X.shape[1]:
        values = X.iloc[:, smiles_col].to_numpy(dtype=object)
    elif X.shape[1] == 1:
        values = X.iloc[:, 0].to_numpy(dtype=object)
    else:
        raise ValueError(
            f"DataFrame has no molecule column {smiles_col!r}; its columns are "
            f"{list(X.columns)[:20]}. Pass smiles_col=<the column with SMILES>."
        )
    if values.ndim != 1:  # duplicated names or a MultiIndex level select several columns
        raise ValueError(f"DataFrame column {smiles_col!r} is not unique: it selects {values.shape[1]} columns.")
    str_names = all(isinstance(c, str) for c in names)
    return MoleculeColumn(values, X.shape[1], names.astype(object) if str_names else None, X.index)


def _array_column(X: Any, smiles_col: str | int | None) -> MoleculeColumn:
    """The molecules of a list, tuple, array or other iterable: 1-D, or a 2-D column by position."""
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        arr = _as_object_array(X)
    elif isinstance(X, Iterable):
        arr = _as_object_array(list(X))
    else:
        raise ValueError(f"Expected molecules as a list, array, Series or DataFrame; got {type(X).__name__}.")
    if arr.ndim == 1:
        return MoleculeColumn(arr, 1)
    if arr.ndim != 2:
        raise ValueError(f"Expected 1-D or 2-D input of molecules, got an array with {arr.ndim} dimensions.")
    pos = smiles_col if isinstance(smiles_col, int) and not isinstance(smiles_col, bool) else 0
    if not 0 <= pos < max(arr.shape[1], 1):
        raise ValueError(f"smiles_col={smiles_col} is out of range for an array with {arr.shape[1]} columns.")
    values = arr[:, pos] if arr.shape[1] else np.empty(arr.shape[0], dtype=object)
    return MoleculeColumn(values, arr.shape[1])


def _as_object_array(X: Any) -> np.ndarray:
    """Build an object array without letting numpy split strings or Mols into characters."""
    if isinstance(X, np.ndarray):
        return X.astype(object, copy=False) if X.dtype != object else X
    items = list(X)
    if items and all(isinstance(i, (list, tuple, np.ndarray)) for i in items):
        rows = [list(i) for i in items]
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise ValueError("Rows of the input have different lengths.")
        out = np.empty((len(rows), width), dtype=object)
        for i, r in enumerate(rows):
            out[i, :] = r
        return out
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def to_mol(entry: Any) -> Chem.Mol | None:
    """Parse one entry into an RDKit ``Mol``; ``None`` when it is invalid.

    ``None``, NaN, blank strings, non-strings and unparsable SMILES are invalid. RDKit's own
    log lines are silenced: the caller reports invalid rows once, all together.

    Examples
    --------
    >>> to_mol("CCO").GetNumAtoms()
    3
    >>> to_mol("not a smiles") is None, to_mol(None) is None, to_mol(float("nan")) is None
    (True, True, True)
    """
    if isinstance(entry, Chem.Mol):
        if entry.GetNumAtoms() == 0:
            return None
        # An unsanitized Mol (MolFromSmiles(..., sanitize=False), MolFromSmarts) made the
        # featurizers fail deep inside RDKit; sanitize a copy, as parsing a SMILES would.
        mol = Chem.Mol(entry)
        with rdBase.BlockLogs():
            try:
                failed = Chem.SanitizeMol(mol, catchErrors=True) != Chem.SanitizeFlags.SANITIZE_NONE
            except Exception:  # noqa: BLE001 - RDKit raises assorted types on exotic Mols
                failed = True
        return None if failed else mol
    if isinstance(entry, np.str_):
        entry = str(entry)
    if not isinstance(entry, str) or not entry.strip():
        return None
    with rdBase.BlockLogs():  # restores the caller's log state afterwards
        mol = Chem.MolFromSmiles(entry.strip())
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def to_smiles(entry: Any) -> str | None:
    """Canonical SMILES of one entry, or ``None`` when it is invalid.

    Examples
    --------
    >>> to_smiles("OCC")
    'CCO'
    """
    mol = to_mol(entry)
    return None if mol is None else Chem.MolToSmiles(mol)


def check_on_invalid(on_invalid: str) -> None:
    """Validate the ``on_invalid`` parameter value."""
    if on_invalid not in ON_INVALID_OPTIONS:
        raise ValueError(f"on_invalid must be one of {ON_INVALID_OPTIONS}, got {on_invalid!r}.")


def raise_for_invalid(valid: np.ndarray, entries: Sequence[Any], on_invalid: str) -> None:
    """Raise one :class:`InvalidMoleculeError` naming every invalid row, unless ``on_invalid='nan'``.

    Parameters
    ----------
    valid : ndarray of bool, shape (n_samples,)
        ``True`` where the entry parsed.
    entries : sequence
        The raw entries, used to quote the bad values in the message.
    on_invalid : {"raise", "nan"}

    Raises
    ------
    InvalidMoleculeError
        When some entry is invalid and ``on_invalid="raise"``.

    Examples
    --------
    >>> raise_for_invalid(np.array([True, False]), ["CCO", "xyz"], "nan")  # keeps the rows
    >>> raise_for_invalid(np.array([True, False]), ["CCO", "xyz"], "raise")
    Traceback (most recent call last):
    ...
    chmr_sklearn._inputs.InvalidMoleculeError: 1 invalid molecule(s) out of 2 at row(s) [1: 'xyz']. ...
    """
    check_on_invalid(on_invalid)
    if on_invalid == "raise" and not np.all(valid):
        raise InvalidMoleculeError(np.flatnonzero(~np.asarray(valid, dtype=bool)), entries)


def check_molecule_input(estimator: Any, X: Any, *, reset: bool) -> MoleculeColumn:
    """The molecule column of ``X`` plus sklearn's input bookkeeping for ``estimator``.

    ``reset=True`` (in ``fit``) records ``n_features_in_`` / ``feature_names_in_``;
    ``reset=False`` checks them against a fitted estimator (a stateless featurizer that was
    never fitted accepts anything).

    Parameters
    ----------
    estimator : estimator
        Supplies ``smiles_col`` and receives (or is checked against) the input facts.
    X : array-like or DataFrame
        See the module docstring for the accepted forms.
    reset : bool
        ``True`` in ``fit``, ``False`` in ``transform`` / ``predict``.

    Returns
    -------
    MoleculeColumn

    Examples
    --------
    >>> import pandas as pd
    >>> from chmr_sklearn.featurize import FingerprintFeaturizer
    >>> est = FingerprintFeaturizer()
    >>> X = pd.DataFrame({"id": [7, 8], "smiles": ["CCO", "CCN"]})
    >>> check_molecule_input(est, X, reset=True).values.tolist()
    ['CCO', 'CCN']
    >>> est.n_features_in_, est.feature_names_in_.tolist()
    (2, ['id', 'smiles'])
    """
    from sklearn.utils.validation import _check_feature_names

    column = molecule_column(X, estimator.smiles_col)
    if reset:
        estimator.n_features_in_ = column.n_features
    elif hasattr(estimator, "n_features_in_") and column.n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {column.n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    _check_feature_names(estimator, X, reset=reset)
    return column
