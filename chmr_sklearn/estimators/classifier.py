"""CHMRClassifier: binary or multi-task (multi-label) classification with missing labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import type_of_target
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
        Adam's learning rate. The regressor's 1e-4 did not help here: higher validation
        ROC-AUC on 2 of the 4 classification sets in the first run of ``head_defaults.md``,
        lower on the other 2.
    batch_size : int, default=256
    max_epochs : int, default=100
    patience : int or None, default=20
        Early stopping on the validation metric (mean ROC-AUC over tasks with both classes);
        the best epoch's weights are restored. ``None`` trains ``max_epochs``.
    weight_decay : float, default=1e-5
    validation_fraction : float, default=0.1
        Share of the labelled rows held out (see ``validation_split``) for early stopping and
        for the ``rf_residual="auto"`` choice. With 0, or fewer than 10 labelled rows, there
        is no validation split. Use the ``validation_data`` argument of :meth:`fit` to give
        your own; it wins over both parameters.
    validation_split : {"scaffold", "random"}, default="scaffold"
        How those rows are chosen. ``"scaffold"``: whole Bemis-Murcko scaffold groups (RDKit
        ``MurckoScaffold`` SMILES, as :func:`~chmr_sklearn.model_selection.scaffold_groups`;
        each distinct acyclic molecule is a group of its own), taken in a seeded random order
        until about ``validation_fraction`` of the rows; ``"random"``: random rows. Why
        scaffolds: the test molecules of the scaffold benchmarks, like a user's new chemistry,
        have scaffolds the training rows lack, and validation rows that share scaffolds with
        the training rows make early stopping and the ``"auto"`` choice optimistic. With
        ``transformer="passthrough"`` (numbers, no molecules) the split is random; so it is,
        with a warning, when no scaffold group fits in the share (e.g. a single-scaffold
        series). On the validation splits of ``benchmarks/results/head_defaults.md`` (4
        classification sets, 2 seeds, with ``rf_residual="auto"``) scaffolds gave the better
        mean ROC-AUC x100 (81.0 vs 80.2; ClinTox 89.4 vs 85.1, BBBP 96.8 vs 96.4, but BACE
        72.7 vs 73.5, SIDER 65.1 vs 65.7). :class:`CHMRRegressor` defaults to ``"random"``,
        which won there.
    rf_residual : bool, "auto" or "blend", default="auto"
        ``True``: add a random forest on the fingerprint block, final logit =
        ``gamma * head + logit(RF probability)``; the forest is trained on the training rows
        only, with out-of-bag offsets for them. ``"auto"``: train each head both without and
        with the forest (same rows, seed and validation split) and keep the forest in every
        head unless each head's validation ROC-AUC preferred the plain one (the plain one on a
        tie); without a validation split, or beyond ``rf_max_tasks`` tasks, ``"auto"`` means
        ``False``. On the validation splits of ``head_defaults.md`` (ROC-AUC x100, mean of 2
        seeds) the forest's offset lifted every classification set (BACE 71.5 -> 72.7, ClinTox
        77.2 -> 89.4, SIDER 59.8 -> 65.1, BBBP 95.5 -> 96.8). Why a joint choice: each head's
        internal split is small (~120 molecules on BACE), so a head choosing alone dropped the
        forest by chance on 16 of 45 seeds of BACE, ClinTox, BBBP, SIDER and ChEMBL2K, where
        keeping it scored higher on the protocol's validation split in 13 (mean +0.70 ROC-AUC
        x100; ``benchmarks/results/auto_vs_forest.md``); only one of those seeds had every
        head prefer the plain one. :class:`CHMRRegressor` keeps each head's own choice (there
        the forest can hurt: ESOL). Cost: ``"auto"`` trains two heads and the forest (one per
        task), about twice the time of ``False`` plus the forest.
        ``"blend"``: train both variants as ``"auto"`` does and keep both, each head's output
        the weighted mean of its two logits with weights proportional to
        ``(1 - validation ROC-AUC) ** -8`` (``rf_residual_weights_``): near-equal scores
        average the two, a clearly better variant takes nearly all the weight. Same training
        cost as ``"auto"``, two nets to evaluate at prediction.
    gamma : float, default=0.1
        Scale of the head's correction to the forest's logit. ``gamma=1.0`` lost on the
        protocol validation splits (``downstream_gamma1.md``, 3 seeds, ROC-AUC x100): BACE
        72.6 -> 73.3 and BBBP 96.3 -> 96.5, but ClinTox 92.9 -> 85.1 and SIDER 65.9 -> 65.2.
    rf_n_estimators : int, default=500
    rf_refit : bool, default=False
        With the forest kept, refit it on every labelled row (the internal validation rows
        included) once the head is trained and chosen, and take prediction offsets from that
        forest: the head still learns against out-of-bag offsets and stops early on rows the
        first forest never saw, but the final forest, like a plain random forest, sees all the
        data it is given. Ignored with ``validation_data`` (the forest already has every
        training row) or without the forest. Costs a second forest fit. Off by default: on the
        validation splits of ``benchmarks/results/head_defaults_refit.md`` (10 sets, 2 seeds)
        it tied with the default on mean rank for both estimators (ClinTox 90.7 vs 89.3 and
        SIDER 66.1 vs 65.5 ROC-AUC x100 better, BACE 73.3 vs 73.9 worse).
    rf_offsets : {"oob", "scaffold"}, default="oob"
        The forest's offsets the head learns against on its training rows. ``"oob"``: each
        row's out-of-bag prediction (free with bagging), optimistic for new scaffolds because
        the row's scaffold-mates trained the same trees. ``"scaffold"``: each row's
        prediction by a forest fitted on the other folds of a 5-fold ``GroupKFold`` over Murcko
        scaffolds, the offset a molecule of an unseen scaffold gets; costs 5 more forest fits
        per task. With ``transformer="passthrough"`` (numbers, no scaffolds) the offsets are
        out-of-bag. Prediction offsets come from the forest fitted on all training rows either
        way.
    rf_max_tasks : int or None, default=64
        With ``rf_residual="auto"``, targets with more columns than this train the plain head
        only: the forest variant fits one forest per task, which then dominates the fit. On
        ToxCast (617 tasks, 2 cores) one task's forest takes 6 s for a median task (1,439
        labels) to 28 s for the largest (7,931), about an hour per head for all 617, against
        minutes for the head; and there the plain head beat RF on the same bits by far
        (ROC-AUC x100, validation 70.4 vs 64.6, test 65.0 vs 61.6,
        ``benchmarks/results/downstream.md``); at the full grid the forest variant tested below
        the plain head (65.3 vs 65.4 test, 69.4 vs 70.6 validation, ~32 min a head and 14 GB of
        forests, ``downstream_full_grids.md``). ChEMBL2K (41 tasks), Broad6K (32) and SIDER
        (27) keep the choice. ``None``: always train both. ``rf_residual=True`` is not affected.
    n_heads : int, default=2
        Heads trained and averaged (their probabilities; the regressor: their predictions).
        Each head is what a single-head fit with its own seed gives: its own internal
        validation split, forest, ``"auto"`` choice, initialisation and batch order, on the
        one embedding. The first head's seed is the fit's, so ``n_heads=1`` is the single
        head. Why 2: on the validation splits of ``benchmarks/results/head_defaults_offsets.md``
        (10 sets) the average of two heads fitted with different seeds beat the single heads'
        mean on every set (ROC-AUC x100: BACE 73.9 -> 74.0, ClinTox 89.3 -> 91.4, SIDER
        65.5 -> 66.2, BBBP 95.9 -> 96.3; MAE: ESOL 0.780 -> 0.731, FreeSolv 2.138 -> 2.078,
        Lipophilicity 0.616 -> 0.609 and three MoleculeACE sets), and in the earlier run of
        ``head_defaults.md`` on 8 of 10 with 2 ties, never worse. Costs ``n_heads`` times the
        head training and forests (the embedding is computed once).
    descriptors : bool or "fragments", default=False
        Put 79 scaled RDKit 2D descriptors (``"fragments"``: and RDKit's 85 functional-group
        counts, :data:`~chmr_sklearn.featurize.descriptors.FRAGMENT_NAMES`) in front of the embedding, as
        :class:`CHMRRegressor` does by default (see there). Off here: over the protocol's
        validation splits of eight classification sets (3 seeds,
        ``benchmarks/results/downstream_cls_descriptors.md``) they raise the mean ROC-AUC x100
        by only 0.21 (better on 6 of 8; SIDER 65.9 -> 63.1, ChEMBL2K 83.8 -> 83.1). On
        toxicity panels they help: ToxCast validation 69.6 -> 71.3 (test 65.2 -> 66.7), so
        set ``descriptors=True`` there.
    memory : str or joblib.Memory, optional
        Cache embeddings on disk so grid searches over head parameters embed once.
    smiles_col, on_invalid, n_jobs
        Input policy (see :class:`CHMRTransformer`); invalid molecules give NaN
        probabilities with ``on_invalid="nan"``. ``n_jobs`` also sets the threads that grow
        the residual forests (``None``: as many as the transformer's workers, i.e. torch's
        cores); the forests, and so the fit, do not depend on it.
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the head's initialisation, batch order, dropout and the
        forest, through generators local to the fit (never torch's or numpy's global one, so
        fits in threads are independent). A ``RandomState`` is drawn from once per ``fit``.
    warm_start : bool, default=False
        Continue training the existing heads on the next ``fit`` (with ``"auto"``: the
        variant each head kept, without a new choice); a different ``n_heads`` starts afresh.
    checkpoint_dir : str or Path, optional
        Make ``fit`` resumable: the head's training state (weights, optimizer, early
        stopping, the seed and the fit's random generators) is saved there after every
        epoch, one file per distinct fit (settings + data), and deleted when the fit
        completes. Calling ``fit`` again with the same arguments after an interruption
        continues from the last completed epoch and gives the same model as an
        uninterrupted fit; with ``random_state=None`` it continues with the seed the
        interrupted fit drew. Each head (and with ``"auto"`` each of its two variants) has
        its own file; all stay until the whole fit completes. Not used when ``warm_start``
        continues existing heads.
    verbose : int, default=0
        1 prints skorch's epoch table.

    Attributes
    ----------
    classes_ : ndarray
        Single task: the two labels. Multi-task: ``arange(n_tasks)``, as
        ``MLPClassifier`` on a multilabel ``y`` (one network, one output per task, so one
        ``(n, n_tasks)`` array from ``predict_proba`` / ``decision_function`` and a 0/1
        indicator from ``predict``; ``MultiOutputClassifier``'s list of per-task ``(n, 2)``
        arrays would not fit one ``decision_function``).
    transformer_ : fitted transformer
    heads_ : list of FittedHead
        The ``n_heads`` trained heads, each with its ``net`` (skorch ``NeuralNet``;
        ``net.history`` holds the epoch table), ``rf`` (its forest or None), ``rf_residual``,
        ``scores`` and ``monitor`` (below, for the first head); with ``"blend"`` also ``nets``
        and ``weights``, both keyed by ``rf_residual``'s values.
    net_ : skorch.NeuralNet
        The first head's net. This and the next attributes describe the first head, the
        whole model when ``n_heads=1``.
    rf_ : RandomForestResidual or None
        The first head's forest, when it adds one.
    rf_residual_ : bool
        Whether the first head adds the forest's offset: ``rf_residual`` itself when it is a
        bool, the joint choice of every head for ``"auto"`` (which may differ from what the
        first head's own ``rf_residual_scores_`` prefer).
    rf_residual_scores_ : dict of bool to float
        Validation score (``monitor_``) of each variant the first head trained, keyed by
        ``rf_residual_``'s value: both for ``"auto"`` and ``"blend"``, one otherwise, empty
        without a validation split.
    rf_residual_weights_ : dict of bool to float
        The first head's weight of each variant in its output: both for ``"blend"`` (then
        ``rf_residual_`` names the heavier one), ``{rf_residual_: 1.0}`` otherwise.
    monitor_ : str or None
        What early stopping and ``"auto"`` compare: ``"valid_roc_auc"``, or ``"valid_loss"``
        when no validation task holds both classes; None without a validation split.
    n_epochs_ : int
        Epochs actually run by the first head.

    Notes
    -----
    ``score`` is accuracy (NaN-aware: per task over its labelled rows, then averaged over
    tasks); use ``scoring=get_scorer("mean_roc_auc")`` for the benchmark metric. Multi-task
    outputs follow ``MLPClassifier``'s multilabel convention (see ``classes_``).

    Ctrl-C during ``fit`` raises ``KeyboardInterrupt`` promptly (skorch's own loop would
    swallow it) and leaves the estimator unfitted: every fitted attribute is removed, also
    with ``warm_start``. With ``checkpoint_dir`` the last completed epoch stays on disk
    (never a partly written file) and the next ``fit`` resumes from it.

    Examples
    --------
    >>> from chmr_sklearn import CHMRClassifier
    >>> X = ["CCO", "CCN", "CCCl", "CC(C)O", "CCOC", "CCCN", "c1ccccc1", "c1ccccc1O", "c1ccncc1",
    ...      "C1CCCCC1", "c1ccc2ccccc2c1", "c1ccoc1"]
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> clf = CHMRClassifier(max_epochs=5, rf_n_estimators=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(["CCO", "c1ccccc1"]).shape
    (2, 2)
    """

    def __init__(self, transformer=None, *, hidden=1200, dropout=0.5, norm="layer", lr=1e-3, batch_size=256,
                 max_epochs=100, patience=20, weight_decay=1e-5, validation_fraction=0.1, validation_split="scaffold",
                 rf_residual="auto", gamma=0.1, rf_n_estimators=500, rf_refit=False, rf_offsets="oob", rf_max_tasks=64,
                 n_heads=2, descriptors=False, memory=None, smiles_col="smiles", on_invalid="raise", n_jobs=None,
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
        self.validation_split = validation_split
        self.rf_residual = rf_residual
        self.gamma = gamma
        self.rf_n_estimators = rf_n_estimators
        self.rf_refit = rf_refit
        self.rf_offsets = rf_offsets
        self.rf_max_tasks = rf_max_tasks
        self.n_heads = n_heads
        self.descriptors = descriptors
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
            Validation set (early stopping, ``"auto"``) used instead of the internal split.

        Returns
        -------
        self
        """
        return self._fit_or_reset(X, y, validation_data)

    def _encode_y(self, y, *, fitting: bool) -> np.ndarray:
        if y is None:
            raise ValueError("CHMRClassifier requires y to be passed, but the target y is None.")
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
            self.classes_ = np.arange(Y.shape[1])  # MLPClassifier's multilabel convention
            self.task_names_ = names
        elif not self.multitask_ or Y.shape[1] != len(self.classes_):
            raise ValueError(f"y has {Y.shape[1]} tasks, the classifier was fitted on "
                             f"{len(self.classes_) if self.multitask_ else 1}.")
        return Y

    def _fit_single_task(self, arr: np.ndarray) -> None:
        labels = arr[~pd.isna(arr)]
        if len(labels) == 0:
            raise ValueError("y has no label at all (every entry is NaN).")
        if type_of_target(labels) == "continuous":
            raise ValueError("Unknown label type: continuous. CHMRClassifier needs class labels; "
                             "use CHMRRegressor for continuous targets.")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"y has only one class {classes.tolist()}; a classifier needs two.")
        if len(classes) > 2:
            raise ValueError(f"Only binary classification is supported; y has {len(classes)} classes "
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

    def _choose(self, preferred: list[bool], contested: list[bool]) -> list[bool]:
        """``"auto"``: every head keeps the forest unless each head that weighed it preferred the plain head.

        A head's preference comes from its own small internal split (~120 molecules on BACE)
        and flips by chance; one head preferring the forest is the evidence kept
        (``benchmarks/results/auto_vs_forest.md``). Heads that did not weigh both variants
        (warm start, no validation rows) keep their own.
        """
        keep = any(p for p, c in zip(preferred, contested) if c)
        return [keep if c else p for p, c in zip(preferred, contested)]

    def _combine(self, logits: np.ndarray) -> np.ndarray:
        """The heads' mean probability, as a logit (clipped so that a sure 0 or 1 stays finite)."""
        p = np.clip(_sigmoid(logits.astype(np.float64)).mean(axis=0), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    def decision_function(self, X) -> np.ndarray:
        """Logits (float64), shape (n,) for one task or (n, n_tasks); NaN rows for invalid molecules."""
        out = self._raw_output(X).astype(np.float64)
        return out[:, 0] if not self.multitask_ else out

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (float64): (n, 2) for one task (columns follow ``classes_``), else (n, n_tasks).

        Multi-task: column *t* is the probability that task *t* is positive, as
        ``MLPClassifier.predict_proba`` on a multilabel ``y``.
        """
        p = _sigmoid(self._raw_output(X).astype(np.float64))
        return p if self.multitask_ else np.column_stack([1 - p[:, 0], p[:, 0]])

    def predict(self, X) -> np.ndarray:
        """Labels: ``classes_`` values for one task, a 0/1 indicator (n, n_tasks) otherwise.

        The dtype depends on the estimator, never on the input: with ``on_invalid="raise"``
        it is ``classes_``'s dtype (int64 0/1 for multi-task); with ``on_invalid="nan"``,
        where an invalid molecule's prediction is missing, it is float64 (NaN) for numeric
        labels and object (None) for other labels, whether or not this ``X`` holds an
        invalid molecule.
        """
        check_is_fitted(self, "heads_")
        p = self.predict_proba(X)
        pos = p if self.multitask_ else p[:, 1]
        invalid = np.isnan(pos)
        labels = (np.nan_to_num(pos) >= 0.5).astype(np.int64)
        if not self.multitask_:
            labels = self.classes_[labels]
        if self.on_invalid != "nan":
            return labels
        if labels.dtype.kind in "iufb":
            labels = labels.astype(np.float64)
            labels[invalid] = np.nan
        else:
            labels = labels.astype(object)
            labels[invalid] = None
        return labels

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy, as scikit-learn's ``score``; NaN-aware over tasks.

        One task: ``accuracy_score(y, predict(X))`` over the labelled rows. Multi-task:
        the accuracy of each task over its labelled rows, averaged over tasks (scikit-learn's
        subset accuracy is undefined when most labels are missing). For the benchmark
        metric pass ``scoring=get_scorer("mean_roc_auc")`` (see
        :mod:`chmr_sklearn.model_selection`).

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol (or embeddings)
        y : array-like of shape (n,) or (n, n_tasks); NaN = unlabelled
        sample_weight : array-like of shape (n,), optional

        Returns
        -------
        float
        """
        from ..model_selection import mean_accuracy

        Y = self._encode_y(y, fitting=False)
        return mean_accuracy(Y, (_sigmoid(self._raw_output(X)) >= 0.5).astype(np.float64), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False
        return tags
