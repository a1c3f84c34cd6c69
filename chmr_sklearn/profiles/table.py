"""ProfileTable: one biological modality's feature table, keyed by molecule (InChIKey).

A biological modality (cell morphology, gene expression, genetic perturbation, ...) is a table
with one or more rows per measured molecule and numeric feature columns. Molecules are
identified by their standard InChIKey, taken from an InChIKey column or computed from a SMILES
column, so that tables from different sources (BRD ids, DrugBank ids, ...) meet on one key.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"smiles": ["CCO", "OCC", "c1ccccc1"], "name": ["a", "b", "c"],
...                    "f1": [1.0, 3.0, 5.0], "f2": [0.0, 2.0, 4.0]})
>>> table = ProfileTable(df, name="toy")
>>> table.keys.tolist()  # "CCO" and "OCC" are the same molecule: one key, mean of the rows
['LFQSCWFLJHTTHZ-UHFFFAOYSA-N', 'UHOVQNZJYSORNB-UHFFFAOYSA-N']
>>> table.features.tolist(), table.n_duplicates_, table.ignored_columns
([[2.0, 1.0], [5.0, 4.0]], 1, ['name'])
>>> X, observed = table.align(inchikeys_from_smiles(["c1ccccc1", "CCN"]))
>>> X.tolist(), observed.tolist()
([[5.0, 4.0], [nan, nan]], [True, False])
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger

from .._inputs import InvalidMoleculeError, molecule_column, to_mol

__all__ = ["ProfileTable", "inchikeys_from_smiles", "is_inchikey"]

_INCHIKEY = re.compile(r"^[A-Z]{14}-[A-Z]{10}-[A-Z]$")
_SHOWN = 5  # bad cells / rows spelled out in error messages; counts are always complete


def is_inchikey(value: Any) -> bool:
    """``True`` when ``value`` is a string in standard InChIKey format (27 characters).

    Examples
    --------
    >>> is_inchikey("LFQSCWFLJHTTHZ-UHFFFAOYSA-N"), is_inchikey("LFQSCWFLJHTTHZ"), is_inchikey(None)
    (True, False, False)
    """
    return isinstance(value, str) and _INCHIKEY.match(value) is not None


def inchikeys_from_smiles(smiles: Any) -> np.ndarray:
    """Standard InChIKeys of molecules; ``None`` for every entry RDKit cannot handle.

    Parameters
    ----------
    smiles : list, ndarray, Series of SMILES strings or RDKit Mol
        Any 1-D input accepted by :func:`chmr_sklearn._inputs.molecule_column`; an empty
        input gives an empty array.

    Returns
    -------
    ndarray of object, shape (n,)
        InChIKey strings, or ``None`` where the entry is invalid (unparsable, None/NaN, or the
        InChI library fails on it). Never raises for a bad entry: callers decide the policy.

    Examples
    --------
    >>> inchikeys_from_smiles(["CCO", "not a smiles", None]).tolist()
    ['LFQSCWFLJHTTHZ-UHFFFAOYSA-N', None, None]
    """
    if hasattr(smiles, "__len__") and not isinstance(smiles, (str, bytes)) and len(smiles) == 0:
        return np.empty(0, dtype=object)
    values = molecule_column(smiles).values
    out = np.empty(len(values), dtype=object)
    RDLogger.DisableLog("rdApp.*")  # InChI warnings per molecule are noise here
    try:
        for i, entry in enumerate(values):
            mol = to_mol(entry)
            if mol is None:
                continue
            try:
                key = Chem.MolToInchiKey(mol)
            except Exception:  # pragma: no cover - InChI failures are rare and varied
                key = ""
            out[i] = key if is_inchikey(key) else None
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out


def _clean_key(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("InChIKey="):  # DrugBank / PubChem style prefix
            value = value[len("InChIKey="):]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _prepend_column(data: pd.DataFrame, name: Any, values) -> pd.DataFrame:
    """``data`` with ``values`` as a first column, joined rather than inserted: pandas warns
    (PerformanceWarning) on an insert into a frame of many blocks, e.g. one built column by column."""
    column = pd.Series(np.asarray(values, dtype=object), index=data.index, name=name)
    return pd.concat([column, data], axis=1)


def _keys_from_index(data: pd.DataFrame, smiles_col, inchikey_col) -> tuple[pd.DataFrame, Any, Any]:
    """Move molecule keys held by the index into a column; returns ``(data, smiles_col, inchikey_col)``.

    * A key column named as an index level (``df.set_index("inchikey")``) is taken from it.
    * Otherwise, when the key column is absent and the index is not the default integer
      range, the index itself holds the molecules: InChIKeys if every entry is one, else
      SMILES (whichever key column was asked for: the index is what the table has).
    """
    wanted = inchikey_col if inchikey_col is not None else smiles_col
    if wanted in data.columns:
        return data, smiles_col, inchikey_col
    if wanted in [n for n in data.index.names if n is not None]:
        rest = data.droplevel(wanted) if data.index.nlevels > 1 else data.set_axis(pd.RangeIndex(len(data)), axis=0)
        return _prepend_column(rest, wanted, data.index.get_level_values(wanted)), smiles_col, inchikey_col
    if isinstance(data.index, pd.RangeIndex) or data.index.nlevels != 1 or data.index.dtype.kind not in "OSU":
        return data, smiles_col, inchikey_col  # no molecules in the index: the caller reports it
    column = "__molecule_index__"
    frame = _prepend_column(data.set_axis(pd.RangeIndex(len(data)), axis=0), column, data.index)
    if all(is_inchikey(_clean_key(v)) for v in data.index):
        return frame, smiles_col, column
    return frame, column, None


class ProfileTable:
    """One biological modality's features, one row per molecule (InChIKey).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per measurement; several rows of the same molecule are allowed. The molecules
        may also be the **index** (SMILES or InChIKeys, detected from the values), with the
        features as the columns, e.g. ``df.set_index("inchikey")`` or :meth:`to_frame`'s
        output; a key column named as an index level is read from it.
    name : str, default="profile"
        Name of the modality (e.g. ``"expression"``); used in messages and by callers.
    smiles_col : str or None, default="smiles"
        Column with SMILES, used to compute the keys when ``inchikey_col`` is None. Invalid
        SMILES raise one :class:`~chmr_sklearn._inputs.InvalidMoleculeError` (a ValueError)
        naming every bad row. When ``inchikey_col`` is given, this column (if present) is only
        excluded from the features.
    inchikey_col : str or None, default=None
        Column with standard InChIKeys (27 characters, ``XXXXXXXXXXXXXX-XXXXXXXXXX-X``; an
        ``InChIKey=`` prefix and surrounding blanks are stripped). Malformed keys raise a
        ValueError naming every bad row. Takes precedence over ``smiles_col``.
    feature_cols : list of str or None, default=None
        Feature columns. ``None`` selects every numeric (or boolean) column other than the key
        columns; the remaining non-numeric columns (ids, names, ...) are left out and listed
        in :attr:`ignored_columns`. Explicit columns must exist and be numeric.

    Attributes
    ----------
    name : str
    keys : ndarray of str, shape (n_keys,)
        Unique InChIKeys, in order of first appearance in ``data``.
    features : ndarray of float32, shape (n_keys, dim)
        Feature rows; a key with several input rows gets the **mean** of its rows (computed
        in float64). The official code keeps the last row instead; the mean uses every
        replicate/dose and does not depend on row order.
    feature_names : list of str
    dim : int
        Number of features.
    ignored_columns : list of str
        Non-numeric, non-key columns not used as features (only when ``feature_cols=None``).
    n_duplicates_ : int
        Number of input rows merged into an earlier row of the same key
        (``len(data) - n_keys``).

    Raises
    ------
    ValueError
        No rows, no feature columns, missing key columns, malformed keys or SMILES,
        non-numeric explicit feature columns, NaN or infinite feature values (in float32).

    Notes
    -----
    Missing molecules are represented by the *absence* of a row (see :meth:`align`), never by
    NaN inside the table: a NaN feature is rejected so that a partially measured profile is
    not silently mixed with imputed values.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"inchikey": ["LFQSCWFLJHTTHZ-UHFFFAOYSA-N"], "g1": [0.5]})
    >>> ProfileTable(df, name="expression", inchikey_col="inchikey")
    ProfileTable(name='expression', n_keys=1, dim=1, n_duplicates_=0, ignored_columns=[])

    A table keyed by its index (SMILES here, InChIKeys work the same way):

    >>> ProfileTable(pd.DataFrame({"g1": [0.5, 1.0]}, index=["CCO", "c1ccccc1"])).keys.tolist()
    ['LFQSCWFLJHTTHZ-UHFFFAOYSA-N', 'UHOVQNZJYSORNB-UHFFFAOYSA-N']
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        name: str = "profile",
        smiles_col: str | None = "smiles",
        inchikey_col: str | None = None,
        feature_cols: list[str] | None = None,
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}.")
        self.name = name
        if data.columns.duplicated().any():
            dup = [str(c) for c in data.columns[data.columns.duplicated()].unique()]
            raise ValueError(f"Profile table {name!r} has duplicated column names: {dup[:10]}.")
        if len(data) == 0:
            raise ValueError(f"Profile table {name!r} has 0 rows; at least one is required.")
        if inchikey_col is None and smiles_col is None:
            raise ValueError("Pass inchikey_col or smiles_col: the molecules must be identified.")
        data, smiles_col, inchikey_col = _keys_from_index(data, smiles_col, inchikey_col)
        for role, col in (("inchikey_col", inchikey_col), ("smiles_col", smiles_col if inchikey_col is None else None)):
            if col is not None and col not in data.columns:
                raise ValueError(
                    f"{role}={col!r} is not a column of profile table {name!r} (nor an index level, and "
                    f"the index does not hold molecules); its columns start with {list(data.columns)[:10]}."
                )
        key_cols = [c for c in (inchikey_col, smiles_col) if c is not None and c in data.columns]

        labels, self.ignored_columns = self._select_features(data, key_cols, feature_cols)
        self.feature_names = [str(c) for c in labels]
        values = self._feature_values(data, labels)
        raw_keys = self._row_keys(data, smiles_col, inchikey_col)

        codes, uniques = pd.factorize(pd.Series(raw_keys, dtype=object), sort=False)
        n_keys = len(uniques)
        if n_keys == len(raw_keys):
            features = values
        else:
            # Duplicate keys (replicates, doses, salts mapping to one key): mean of the rows.
            sums = np.zeros((n_keys, values.shape[1]), dtype=np.float64)
            np.add.at(sums, codes, values)
            features = sums / np.bincount(codes, minlength=n_keys)[:, None]
        self.keys = np.asarray(uniques, dtype=str)
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.n_duplicates_ = int(len(raw_keys) - n_keys)
        self._index = {k: i for i, k in enumerate(self.keys.tolist())}

    # ------------------------------------------------------------------ construction helpers
    def _select_features(self, data, key_cols, feature_cols):
        if feature_cols is None:
            numeric, ignored = [], []
            for col in data.columns:
                if col in key_cols:
                    continue
                dtype = data[col].dtype
                is_num = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
                (numeric if is_num else ignored).append(col)
            if not numeric:
                raise ValueError(
                    f"Profile table {self.name!r} has no numeric feature column (non-key columns: "
                    f"{ignored[:10]}). Pass feature_cols or convert the columns to numbers."
                )
            return numeric, [str(c) for c in ignored]
        if isinstance(feature_cols, str) or not isinstance(feature_cols, Iterable):
            raise ValueError(f"feature_cols must be a list of column names, got {feature_cols!r}.")
        feature_cols = list(feature_cols)
        if not feature_cols:
            raise ValueError(f"feature_cols is empty: profile table {self.name!r} needs at least one feature.")
        if len(set(feature_cols)) != len(feature_cols):
            dup = sorted({str(c) for c in feature_cols if feature_cols.count(c) > 1})
            raise ValueError(f"feature_cols lists some columns more than once: {dup[:10]}.")
        missing = [c for c in feature_cols if c not in data.columns]
        if missing:
            raise ValueError(f"feature_cols not found in profile table {self.name!r}: {missing[:10]}.")
        keys = [c for c in feature_cols if c in key_cols]
        if keys:
            raise ValueError(f"feature_cols must not include the key column(s) {keys}.")
        bad = [
            c
            for c in feature_cols
            if not pd.api.types.is_numeric_dtype(data[c].dtype) or pd.api.types.is_complex_dtype(data[c].dtype)
        ]
        if bad:
            raise ValueError(
                f"feature_cols of profile table {self.name!r} must be numeric; "
                f"{len(bad)} are not: {[f'{c} ({data[c].dtype})' for c in bad[:10]]}."
            )
        return feature_cols, []

    def _feature_values(self, data, labels):
        values = data[labels].to_numpy(dtype=np.float64, na_value=np.nan)
        feature_names = [str(c) for c in labels]
        # Finite float64 values beyond float32's range would become inf in ``features``.
        bad = ~np.isfinite(values) | (np.abs(values) > np.finfo(np.float32).max)
        if bad.any():
            rows, cols_ = np.nonzero(bad)
            shown = ", ".join(
                f"(row {r}, {feature_names[c]!r}: {values[r, c]})" for r, c in zip(rows[:_SHOWN], cols_[:_SHOWN])
            )
            raise ValueError(
                f"Profile table {self.name!r} has {bad.sum()} NaN or infinite value(s) in "
                f"{len(np.unique(rows))} row(s) and {len(np.unique(cols_))} column(s), e.g. {shown}. "
                "A missing profile is a missing row: drop or impute incomplete rows first (values "
                "beyond float32's range, |x| > 3.4e38, count as infinite)."
            )
        return values

    def _row_keys(self, data, smiles_col, inchikey_col) -> np.ndarray:
        if inchikey_col is not None:
            raw = data[inchikey_col].to_numpy(dtype=object)
            keys = np.array([_clean_key(v) for v in raw], dtype=object)
            bad = np.flatnonzero([not is_inchikey(v) for v in keys])
            if bad.size:
                shown = ", ".join(f"{r}: {_short(raw[r])}" for r in bad[:50])
                more = "" if bad.size <= 50 else f", ... ({bad.size - 50} more)"
                raise ValueError(
                    f"Profile table {self.name!r}: {bad.size} malformed InChIKey(s) in column "
                    f"{inchikey_col!r} at row(s) [{shown}{more}]; expected 27 characters like "
                    "'LFQSCWFLJHTTHZ-UHFFFAOYSA-N'."
                )
            return keys
        entries = data[smiles_col].to_numpy(dtype=object)
        keys = inchikeys_from_smiles(entries)
        valid = np.array([k is not None for k in keys])
        if not valid.all():
            raise InvalidMoleculeError(np.flatnonzero(~valid), entries)
        return keys

    # ------------------------------------------------------------------ public API
    @property
    def dim(self) -> int:
        """Number of features."""
        return int(self.features.shape[1])

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __repr__(self) -> str:
        ignored = self.ignored_columns
        shown = repr(ignored[:5])[:-1] + (f", ... ({len(ignored) - 5} more)]" if len(ignored) > 5 else "]")
        return (
            f"ProfileTable(name={self.name!r}, n_keys={len(self)}, dim={self.dim}, "
            f"n_duplicates_={self.n_duplicates_}, ignored_columns={shown})"
        )

    def align(self, inchikeys: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of this table for a list of molecules, NaN where a molecule has no profile.

        Parameters
        ----------
        inchikeys : sequence of str or None
            One key per molecule, e.g. from :func:`inchikeys_from_smiles`. ``None``, NaN or any
            non-string entry (an invalid molecule) counts as not observed.

        Returns
        -------
        X : ndarray of float32, shape (n, dim)
            The profile row of each molecule; all-NaN rows where it is not observed.
        observed : ndarray of bool, shape (n,)

        Examples
        --------
        >>> import pandas as pd
        >>> t = ProfileTable(pd.DataFrame({"smiles": ["CCO"], "f": [1.5]}))
        >>> X, obs = t.align(["LFQSCWFLJHTTHZ-UHFFFAOYSA-N", None])
        >>> X.tolist(), obs.tolist()
        ([[1.5], [nan]], [True, False])
        """
        if isinstance(inchikeys, (str, bytes)) or not isinstance(inchikeys, Iterable):
            raise ValueError("inchikeys must be a sequence of keys; wrap a single key in a list.")
        keys = list(inchikeys)
        rows = np.array(
            [self._index.get(_clean_key(k), -1) if isinstance(k, str) else -1 for k in keys], dtype=np.int64
        )
        observed = rows >= 0
        X = np.full((len(keys), self.dim), np.nan, dtype=np.float32)
        X[observed] = self.features[rows[observed]]
        return X, observed

    def to_frame(self) -> pd.DataFrame:
        """The aggregated table as a DataFrame indexed by InChIKey.

        Examples
        --------
        >>> import pandas as pd
        >>> ProfileTable(pd.DataFrame({"smiles": ["CCO"], "f": [1.5]})).to_frame().shape
        (1, 1)
        """
        return pd.DataFrame(self.features, index=pd.Index(self.keys, name="inchikey"), columns=self.feature_names)
