"""CHMRClassifier: binary or multi-task (multi-label) classification with missing labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._head import CHMRHeadEstimator

__all__ = ["CHMRClassifier"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CHMRClassifier(ClassifierMixin, CHMRHeadEstimator):
    """Frozen CHMR embedding + a trained MLP head, for binary and multi-task labels.

    ``y`` may be 1-D (one binary task, any two labels) or 2-D 0/1 with NaN for unlabelled
    entries (e.g. ChEMBL2K's 41 assays, 83 % missing). The loss is BCE over labelled entries
    only; rows without any label are ignored in training; a task without any label is an
    error.

    Parameters
    ----------
    transformer : estimator, "passthrough" or None, default=None
        Embeds the molecules; ``None`` means ``CHMRTransformer()`` (the shipped pretrained
        encoder, frozen, eval mode). ``"passthrough"``: ``X`` already holds numeric
        embeddings. Its ``smiles_col``, ``on_invalid``, ``n_jobs`` and ``device`` are
        overridden by this estimator's.
    hidden : int, default=1200
        Width of the head's hidden layer.
    dropout : float, default=0.5
    norm : {"layer", "batch"}, default="layer"
    lr : float, default=1e-3
    batch_size : int, default=256
    max_epochs : int, default=100
    patience : int or None, default=20
        Early stopping on the validation metric (mean ROC-AUC over tasks with both classes);
        the best epoch's weights are restored. ``None`` trains ``max_epochs``.
    weight_decay : float, default=1e-5
    validation_fraction : float, default=0.1
        Share of the labelled rows held out for early stopping (random, seeded). Use the
        ``validation_data`` argument of :meth:`fit` to give your own (e.g. a scaffold split).
    rf_residual : bool, default=False
        Add a random forest on the fingerprint block: final logit =
        ``gamma * head + logit(RF probability)``; trained on the training rows only, with
        out-of-bag offsets for them.
    gamma : float, default=0.1
    rf_n_estimators : int, default=500
    memory : str or joblib.Memory, optional
        Cache embeddings on disk so grid searches over head parameters embed once.
    smiles_col, on_invalid, n_jobs
        Input policy (see :class:`CHMRTransformer`); invalid molecules give NaN
        probabilities with ``on_invalid="nan"``.
    device : str, default="auto"
    random_state : int, optional
        Seeds the split, the head's initialisation, batch order and the forest.
    warm_start : bool, default=False
        Continue training the existing head on the next ``fit``.
    checkpoint_dir : str or Path, optional
        Make ``fit`` resumable: the head's training state (weights, optimizer, early
        stopping, random state) is saved there after every epoch, one file per distinct
        fit (settings + data), and deleted when the fit completes. An interrupted fit
        (Ctrl-C) raises ``KeyboardInterrupt``; calling ``fit`` again with the same
        arguments continues from the last epoch and gives the same model as an
        uninterrupted fit. Needs an integer ``random_state``; not used when ``warm_start``
        continues an existing head.
    verbose : int, default=0
        1 prints skorch's epoch table.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Single task: the two labels. Multi-task: ``[array([0, 1])] * n_tasks``.
    transformer_ : fitted transformer
    net_ : skorch.NeuralNet
        The trained head (``net_.history`` holds the epoch table).
    rf_ : RandomForestResidual or None
    n_epochs_ : int
        Epochs actually run.

    Examples
    --------
    >>> from chmr_sklearn import CHMRClassifier
    >>> X = ["CCO", "CCN", "c1ccccc1", "c1ccccc1O", "CCCl", "c1ccncc1"] * 3
    >>> y = [0, 0, 1, 1, 0, 1] * 3
    >>> clf = CHMRClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(["CCO", "c1ccccc1"]).shape
    (2, 2)
    """

    def __init__(self, transformer=None, *, hidden=1200, dropout=0.5, norm="layer", lr=1e-3, batch_size=256,
                 max_epochs=100, patience=20, weight_decay=1e-5, validation_fraction=0.1, rf_residual=False,
                 gamma=0.1, rf_n_estimators=500, memory=None, smiles_col="smiles", on_invalid="raise", n_jobs=None,
                 device="auto", random_state=None, warm_start=False, checkpoint_dir=None, verbose=0):
        self.transformer = transformer
        self.hidden = hidden
        self.dropout = dropout
        self.norm = norm
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.rf_residual = rf_residual
        self.gamma = gamma
        self.rf_n_estimators = rf_n_estimators
        self.memory = memory
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose

    def fit(self, X, y, validation_data=None):
        """Embed ``X`` once and train the head on ``y``.

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol
        y : array-like of shape (n,) or (n, n_tasks)
            NaN marks an unlabelled entry.
        validation_data : tuple (X_valid, y_valid), optional
            Early-stopping set used instead of ``validation_fraction``.

        Returns
        -------
        self
        """
        self._validate_params()
        Y = self._encode_y(y, fitting=True)
        return self._fit(X, Y, validation_data)

    def _encode_y(self, y, *, fitting: bool) -> np.ndarray:
        if y is None:
            raise ValueError("CHMRClassifier requires y (labels) to be passed, but the target y is None.")
        if isinstance(y, pd.DataFrame):
            names, arr = list(map(str, y.columns)), y.to_numpy()
        else:
            names, arr = None, (y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y))
        if arr.ndim == 2 and arr.shape[1] == 1 and names is None:
            arr = arr[:, 0]
        if arr.ndim == 1:
            if fitting:
                self._fit_single_task(arr)
            elif self.multitask_:
                raise ValueError("The classifier was fitted on several tasks; y must be 2-D.")
            missing = pd.isna(arr)
            Y = np.where(missing, np.nan, arr == self.classes_[1]).astype(np.float32)
            unknown = ~missing & ~np.isin(arr, self.classes_)
            if unknown.any():
                raise ValueError(f"y contains labels {np.unique(arr[unknown])[:5].tolist()} not seen in fit "
                                 f"(classes {self.classes_.tolist()}).")
            return Y[:, None]
        if arr.ndim != 2:
            raise ValueError(f"y must be 1-D or 2-D, got {arr.ndim} dimensions.")
        try:
            Y = arr.astype(np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError("Multi-task y must hold 0/1 labels and NaN for missing entries.") from err
        bad = ~np.isnan(Y) & (Y != 0) & (Y != 1)
        if bad.any():
            raise ValueError(f"Multi-task y must hold 0/1 labels and NaN; found {np.unique(Y[bad])[:5].tolist()}.")
        if fitting:
            empty = np.flatnonzero(np.isnan(Y).all(axis=0))
            if len(empty):
                which = [names[i] for i in empty] if names else empty.tolist()
                raise ValueError(f"Task(s) {which[:20]} have no label at all; drop them before fitting.")
            self.multitask_ = True
            self.classes_ = [np.array([0, 1])] * Y.shape[1]
            self.task_names_ = names
        elif not self.multitask_ or Y.shape[1] != len(self.classes_):
            raise ValueError(f"y has {Y.shape[1]} tasks, the classifier was fitted on "
                             f"{len(self.classes_) if self.multitask_ else 1}.")
        return Y

    def _fit_single_task(self, arr: np.ndarray) -> None:
        labels = arr[~pd.isna(arr)]
        if len(labels) == 0:
            raise ValueError("y has no label at all (every entry is NaN).")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"y has a single class {classes.tolist()}; a classifier needs two.")
        if len(classes) > 2:
            raise ValueError(f"y has {len(classes)} classes; CHMRClassifier handles binary tasks "
                             "(pass several binary tasks as a 2-D 0/1 y).")
        self.classes_ = classes
        self.multitask_ = False
        self.task_names_ = None

    def _monitor(self, Yv: np.ndarray) -> tuple[str, bool]:
        both = [(Yv[:, t] == 0).any() and (Yv[:, t] == 1).any() for t in range(Yv.shape[1])]
        return ("valid_roc_auc", False) if any(both) else ("valid_loss", True)

    def _valid_score(self, y: np.ndarray, logits: np.ndarray) -> float:
        from ..model_selection import mean_roc_auc

        return mean_roc_auc(y, _sigmoid(logits))

    def decision_function(self, X) -> np.ndarray:
        """Logits, shape (n,) for one task or (n, n_tasks); NaN rows for invalid molecules."""
        out = self._raw_output(X)
        return out[:, 0] if not self.multitask_ else out

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities: (n, 2) for one task (columns follow ``classes_``), else (n, n_tasks)."""
        p = _sigmoid(self._raw_output(X).astype(np.float64))
        return p if self.multitask_ else np.column_stack([1 - p[:, 0], p[:, 0]])

    def predict(self, X) -> np.ndarray:
        """Labels: ``classes_`` values for one task, 0/1 per task otherwise.

        Invalid molecules (``on_invalid="nan"``) give NaN (None for non-numeric classes).
        """
        check_is_fitted(self, "net_")
        p = self.predict_proba(X)
        pos = p if self.multitask_ else p[:, 1]
        invalid = np.isnan(pos)
        if self.multitask_:
            if not invalid.any():
                return (pos >= 0.5).astype(int)
            out = (pos >= 0.5).astype(float)
            out[invalid] = np.nan
            return out
        labels = self.classes_[(np.nan_to_num(pos) >= 0.5).astype(int)]
        if invalid.any():
            labels = labels.astype(float) if labels.dtype.kind in "iufb" else labels.astype(object)
            labels[invalid] = np.nan if labels.dtype.kind == "f" else None
        return labels

    def score(self, X, y, sample_weight=None) -> float:
        """Mean ROC-AUC over tasks with both classes among the labelled rows (NaN-aware)."""
        from ..model_selection import mean_roc_auc

        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by the NaN-aware ROC-AUC score.")
        Y = self._encode_y(y, fitting=False)
        return mean_roc_auc(Y, _sigmoid(self._raw_output(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False
        return tags
