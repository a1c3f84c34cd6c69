"""K-fold cross-validation for multi-task labels with missing entries (NaN).

scikit-learn's ``cv=<int>`` cannot be used with such labels for a classifier: ``check_cv``
calls ``type_of_target(y)`` to choose between ``KFold`` and ``StratifiedKFold`` whenever the
estimator is a classifier, and ``type_of_target`` rejects NaN (``Input y contains NaN``)
before the estimator is called. No estimator tag changes that path (``is_classifier`` only
reads ``estimator_type``, and a CHMR classifier must stay a classifier for ``predict_proba``
scorers), so the splitter is passed explicitly: ``cv=MultiTaskStratifiedKFold(3)``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Iterator

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

__all__ = ["MultiTaskStratifiedKFold"]


def _label_counts(y: Any) -> np.ndarray:
    """Per row, the columns to balance: (positive, negative) per binary task, else labelled-ness."""
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"y must be 1-D or 2-D, got {Y.ndim} dimensions.")
    labelled = ~np.isnan(Y)
    columns = []
    for t in range(Y.shape[1]):
        values = Y[labelled[:, t], t]
        if np.isin(values, (0.0, 1.0)).all():
            columns += [labelled[:, t] & (Y[:, t] == 1), labelled[:, t] & (Y[:, t] == 0)]
        else:  # a regression target: balance how many labelled rows each fold gets
            columns.append(labelled[:, t])
    return np.column_stack(columns + [np.ones(len(Y), dtype=bool)]).astype(np.float64)


class MultiTaskStratifiedKFold(BaseCrossValidator):
    """K-fold that balances every task's labelled classes across folds; NaN labels allowed.

    Each fold gets about ``1/n_splits`` of every task's labelled positives and negatives
    (for a non-binary task: of its labelled rows), so no fold's test part lacks a class that
    the data has enough of. With ``groups`` (e.g. :func:`scaffold_groups`) whole groups are
    assigned, as ``GroupKFold`` does, so a scaffold never appears on both sides. Units (rows,
    or groups) are placed greedily, largest first, in the fold where the spread of the
    per-column fold shares grows least.

    Use it where an integer ``cv`` would be: scikit-learn turns ``cv=3`` into a splitter with
    ``type_of_target(y)``, which rejects NaN labels before any estimator runs.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds (at least 2).
    shuffle : bool, default=False
        Shuffle the units before the (stable) size ordering, so that ties are broken at random.
    random_state : int, RandomState instance or None, default=None
        Used when ``shuffle`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> nan = np.nan
    >>> Y = np.array([[1, nan], [0, 1], [1, 0], [0, nan], [nan, 1], [1, 0], [0, 1], [nan, 0]])
    >>> cv = MultiTaskStratifiedKFold(n_splits=2)
    >>> [test.tolist() for _, test in cv.split(np.zeros((8, 1)), Y)]
    [[0, 3, 4, 5], [1, 2, 6, 7]]
    >>> [test.tolist() for _, test in cv.split(np.zeros((8, 1)), Y, groups=[0, 0, 1, 1, 2, 2, 3, 3])]
    [[0, 1, 4, 5], [2, 3, 6, 7]]

    With ``GridSearchCV`` and scaffold groups (``groups`` is passed to ``fit``):

    >>> from sklearn.model_selection import GridSearchCV  # doctest: +SKIP
    >>> GridSearchCV(clf, grid, cv=MultiTaskStratifiedKFold(3)).fit(X, Y, groups=scaffold_groups(X))  # doctest: +SKIP
    """

    __metadata_request__split = {"groups": True}  # noqa: RUF012 (scikit-learn's routing declaration)

    def __init__(self, n_splits: int = 5, *, shuffle: bool = False, random_state=None):
        if not isinstance(n_splits, Integral) or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of folds.

        Examples
        --------
        >>> MultiTaskStratifiedKFold(3).get_n_splits()
        3
        """
        return self.n_splits

    def split(self, X, y, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` index arrays, one pair per fold.

        Parameters
        ----------
        X : array-like of length n_samples
            Only its length is used.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Labels, NaN = missing.
        groups : array-like of shape (n_samples,), optional
            Rows sharing a group stay in the same fold.

        Yields
        ------
        train, test : ndarray of int

        Examples
        --------
        >>> cv = MultiTaskStratifiedKFold(2)
        >>> [len(test) for _, test in cv.split(range(4), [0, 1, 0, 1])]
        [2, 2]
        """
        fold = self._assign(len(X), y, groups)
        rows = np.arange(len(fold))
        for f in range(self.n_splits):
            yield rows[fold != f], rows[fold == f]

    def _iter_test_indices(self, X=None, y=None, groups=None):  # BaseCrossValidator's abstract hook
        fold = self._assign(len(X), y, groups)
        for f in range(self.n_splits):
            yield np.flatnonzero(fold == f)

    def _assign(self, n: int, y, groups) -> np.ndarray:
        counts = _label_counts(y)
        if len(counts) != n:
            raise ValueError(f"X has {n} rows but y has {len(counts)}.")
        if groups is None:
            unit_of_row = np.arange(n)
        else:
            groups = np.asarray(groups)
            if len(groups) != n:
                raise ValueError(f"X has {n} rows but groups has {len(groups)}.")
            unit_of_row = np.unique(groups, return_inverse=True)[1].ravel()
        n_units = unit_of_row.max() + 1 if n else 0
        if self.n_splits > n_units:
            raise ValueError(f"Cannot have number of splits n_splits={self.n_splits} greater than the number of "
                             f"{'groups' if groups is not None else 'samples'}: {n_units}.")
        unit_counts = np.zeros((n_units, counts.shape[1]))
        np.add.at(unit_counts, unit_of_row, counts)
        order = np.arange(n_units)
        if self.shuffle:
            order = check_random_state(self.random_state).permutation(n_units)
        order = order[np.argsort(-unit_counts[order, -1], kind="stable")]  # largest units first
        totals = np.maximum(counts.sum(axis=0), 1.0)
        # the fold sizes weigh as much as all label columns together: balanced classes must
        # not come at the price of a fold twice the size of another
        weights = np.ones(counts.shape[1])
        weights[-1] = max(1, counts.shape[1] - 1)
        folds = np.zeros((self.n_splits, counts.shape[1]))
        unit_fold = np.empty(n_units, dtype=np.int64)
        candidates = np.eye(self.n_splits)[:, :, None]  # candidate f adds the unit to fold f only
        for u in order:
            trial = (folds[None] + candidates * unit_counts[u]) / totals  # (candidate, fold, column)
            cost = trial.var(axis=1) @ weights
            best = np.flatnonzero(np.isclose(cost, cost.min()))
            f = best[np.argmin(folds[best, -1])]  # tie: the fold with fewest rows so far
            unit_fold[u] = f
            folds[f] += unit_counts[u]
        return unit_fold[unit_of_row]
