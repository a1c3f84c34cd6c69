"""Random-forest residual: the forest's prediction is the offset the CHMR head corrects.

CHMR adds a random forest trained on the fingerprints to the head's output for some datasets
(final logit = gamma * head + RF). The official code feeds the forest's *in-sample*
probabilities for the training rows, which are nearly perfect and leave the head nothing to
learn; here the training rows get the forest's **out-of-bag** predictions instead (free with
bagging), so the head is trained against the offset it will see on new molecules.

Out-of-bag rows still share scaffolds with the rows their trees saw, so for a test set of new
scaffolds those offsets are optimistic. Given ``groups`` (Murcko scaffolds), the training
rows' offsets come instead from forests fitted on the other scaffold folds (``GroupKFold``),
the offset a molecule with an unseen scaffold would get.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import GroupKFold

__all__ = ["RandomForestResidual"]

_EPS = 1e-3  # probabilities are clipped before the logit so the offset stays finite


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class RandomForestResidual:
    """One forest per task, fitted on that task's labelled rows.

    Parameters
    ----------
    task : {"bce", "l1", "mse"}
        ``"bce"``: classification, offsets are logits; otherwise regression, offsets are values.
    n_estimators : int
    random_state : int
    n_jobs : int or None
        Threads that grow each forest's trees (joblib's meaning). Predictions are always
        accumulated in one thread: sklearn sums the trees of a multi-threaded ``predict`` in
        completion order, which changes the last bits from run to run. The trees do not
        depend on ``n_jobs``.
    min_samples_leaf : int, default=2
        As in CHMR's forests. Leaf 1 inside ``CHMRClassifier()``'s heads scored lower on 4 of 5
        protocol validation splits, HIV included, where a stand-alone forest prefers it
        (``benchmarks/results/downstream_forest_leaf1.md``).
    n_folds : int, default=5
        Folds of the out-of-fold offsets when ``fit`` is given ``groups``.

    Attributes
    ----------
    oob_offset_ : ndarray (n, T)
        Offsets of the training rows where the row was labelled for the task: out-of-bag, or
        out-of-fold over ``groups``; the forest's prediction elsewhere.
    """

    def __init__(self, task: str = "bce", n_estimators: int = 500, random_state: int = 0, n_jobs=None,
                 min_samples_leaf: int = 2, n_folds: int = 5):
        self.task = task
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.min_samples_leaf = min_samples_leaf
        self.n_folds = n_folds

    def _new_forest(self, oob: bool = True):
        common = dict(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf, oob_score=oob,
                      random_state=self.random_state, n_jobs=self.n_jobs)
        if self.task == "bce":
            return RandomForestClassifier(criterion="entropy", **common)
        return RandomForestRegressor(**common)

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "RandomForestResidual":
        """Fit one forest per task; ``groups`` (one label a row) switches to out-of-fold offsets."""
        n, T = Y.shape
        self.forests_, self.constants_ = [], []
        self.oob_offset_ = np.zeros((n, T), dtype=np.float64)
        for t in range(T):
            rows = np.flatnonzero(~np.isnan(Y[:, t]))
            y = Y[rows, t]
            if len(rows) < 5 or (self.task == "bce" and len(np.unique(y)) < 2):
                # Too few labels (or one class) for a forest: a constant prior is the honest offset.
                const = self._prior(y) if len(rows) else 0.0
                self.forests_.append(None)
                self.constants_.append(const)
                self.oob_offset_[:, t] = const
                continue
            folds = 0 if groups is None else min(self.n_folds, len(np.unique(groups[rows])))
            forest = self._fit_forest(self._new_forest(oob=folds < 2), X[rows], self._labels(y))
            self.forests_.append(forest)
            self.constants_.append(None)
            self.oob_offset_[:, t] = self._predict_one(forest, X)
            if folds >= 2:
                self.oob_offset_[rows, t] = self._out_of_fold(X[rows], y, groups[rows], folds)
                continue
            if self.task == "bce":
                oob = forest.oob_decision_function_[:, 1]
            else:
                oob = forest.oob_prediction_
            ok = ~np.isnan(oob)  # a row that was in every bootstrap sample has no OOB estimate
            self.oob_offset_[rows[ok], t] = _logit(oob[ok]) if self.task == "bce" else oob[ok]
        return self

    def _prior(self, y: np.ndarray) -> float:
        """The constant offset of labels ``y``: their mean (as a clipped logit for classification)."""
        return float(_logit(np.array(y.mean()))) if self.task == "bce" else float(y.mean())

    def _labels(self, y: np.ndarray) -> np.ndarray:
        return y.astype(int) if self.task == "bce" else y

    def _out_of_fold(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int) -> np.ndarray:
        """Each row's offset from a forest fitted on the folds without its group."""
        out = np.empty(len(y), dtype=np.float64)
        for fit_rows, held in GroupKFold(n_splits=folds).split(X, y, groups):
            seen = y[fit_rows]
            if self.task == "bce" and len(np.unique(seen)) < 2:  # one class left: its prior
                out[held] = self._prior(seen)
                continue
            forest = self._fit_forest(self._new_forest(oob=False), X[fit_rows], self._labels(seen))
            out[held] = self._predict_one(forest, X[held])
        return out

    @staticmethod
    def _fit_forest(forest, X: np.ndarray, y: np.ndarray):
        """Grow the trees on ``n_jobs`` threads, then predict in one (bit-for-bit reproducible)."""
        return forest.fit(X, y).set_params(n_jobs=1)

    def _predict_one(self, forest, X: np.ndarray) -> np.ndarray:
        if self.task == "bce":
            return _logit(forest.predict_proba(X)[:, 1])
        return forest.predict(X)

    def offset(self, X: np.ndarray) -> np.ndarray:
        """Offsets (logits or values) for new rows, shape (n, T)."""
        cols = [np.full(len(X), c) if f is None else self._predict_one(f, X)
                for f, c in zip(self.forests_, self.constants_)]
        return np.column_stack(cols)
