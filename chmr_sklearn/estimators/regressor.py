"""CHMRRegressor: single- or multi-output regression with missing targets."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions

from ._head import CHMRHeadEstimator

__all__ = ["CHMRRegressor"]


class CHMRRegressor(RegressorMixin, CHMRHeadEstimator):
    """Frozen CHMR embedding + a trained MLP head for (multi-output) regression.

    Targets are standardized per task on the training rows (predictions are returned in the
    original units); the loss (L1 by default, as CHMR) covers labelled entries only.
    Parameters are those of :class:`CHMRClassifier`, plus ``loss``, with the defaults below;
    with the random-forest residual the prediction is ``RF + gamma * head``. Early stopping
    and ``rf_residual="auto"`` / ``"blend"`` compare the mean MAE on the validation rows. :meth:`score` is
    R², as every scikit-learn regressor's (NaN-aware: per task over its labelled rows, then
    averaged); for the benchmark metric pass ``scoring=get_scorer("neg_mean_mae")`` (see
    :mod:`chmr_sklearn.model_selection`). :meth:`predict` returns float64.

    Parameters
    ----------
    loss : {"l1", "mse"}, default="l1"
        ``"mse"`` had a worse validation MAE on 4 of 5 regression sets in the first run of
        ``benchmarks/results/head_defaults.md`` (git history).
    lr : float, default=1e-4
        Adam's learning rate. On the validation splits of ``benchmarks/results/head_defaults.md``
        (6 regression sets, 2 seeds) 1e-3 had a worse mean rank (3.83 vs 3.17): much better on
        FreeSolv (2.018 vs 2.465 MAE), worse on the three MoleculeACE sets (CHEMBL2047_EC50
        0.565 vs 0.459) and Lipophilicity; the first run there found 1e-4 better on 5 of 5.
    max_epochs : int, default=100
        As in :class:`CHMRClassifier`. Early stopping ends almost every head first: with 300 the
        validation MAE was identical on 4 of 6 regression sets and moved by at most 0.003 on the other
        two (``benchmarks/results/head_defaults_epochs.md``, 3 seeds).
    rf_residual : bool, "auto" or "blend", default="blend"
        As in :class:`CHMRClassifier`, but ``"auto"`` lets each head keep its own variant (the
        one with the lower MAE on its validation split), and the default is ``"blend"``: each
        head keeps both variants and predicts their weighted mean, the weights proportional to
        the variants' validation MAE to the power -8 (``rf_residual_weights_``), so near-equal
        variants are averaged and a clearly better one takes nearly all the weight. The forest's
        offset splits the regression sets: on the validation splits of ``head_defaults.md`` it
        lowered the MAE on FreeSolv (3.007 -> 2.027) and CHEMBL2047_EC50 (0.491 -> 0.451) but
        raised it on ESOL (0.786 -> 1.007), so a choice per dataset is needed, and a choice on a
        ~10 % internal split is noisy; blending hedges it. On the protocol's validation splits
        (3 seeds, ``benchmarks/results/downstream_defaults.md``) ``"blend"`` against ``"auto"``:
        ESOL 0.633 -> 0.602, FreeSolv 1.724 -> 1.730, Lipophilicity 0.559 -> 0.547; on the inner
        validation parts of three MoleculeACE sets (``head_defaults_blend.md``) better on all
        three (CHEMBL4203_Ki 0.570 -> 0.565). The power was chosen on the three MoleculeNet
        validation splits (0, a plain mean: 0.601 / 1.758 / 0.547; infinity, ``"auto"``; 8:
        0.602 / 1.730 / 0.547). Cost: the same training as ``"auto"`` (two nets per head and the
        forest instead of one net), two nets to evaluate at prediction.
    validation_split : {"scaffold", "random"}, default="random"
        As in :class:`CHMRClassifier`, but random rows by default: with ``rf_residual="auto"``
        and ``lr=1e-4`` a random split had the best mean rank of every regressor variant in
        ``head_defaults.md`` (1.50 vs 3.17 for scaffolds; validation MAE ESOL 0.767 vs 0.786,
        FreeSolv 2.093 vs 2.465, Lipophilicity 0.638 vs 0.646, better on the three
        MoleculeACE sets) and beat RF on 5 of 6 sets. The scaffold split leaves fewer, less
        typical rows to stop on; the split is a parameter so either can be chosen.
    rf_offsets : {"oob", "scaffold"}, default="oob"
        As in :class:`CHMRClassifier`. On the validation splits of
        ``benchmarks/results/head_defaults_offsets.md`` (6 regression sets, 2 seeds)
        ``"scaffold"`` fixed ESOL's spread over seeds (MAE 0.682 ± 0.019 vs 0.780 ± 0.117: a
        random internal split let ``"auto"`` keep the forest on optimistic out-of-bag offsets),
        and together with ``validation_split="scaffold"`` it also won FreeSolv and
        CHEMBL2047_EC50, but that pair lost Lipophilicity, CHEMBL4203_Ki and CHEMBL2835_Ki: all
        three settings tied on mean rank (2.00), so the default stays. On Lipophilicity it cost
        3.2x the fit time.
    rf_max_tasks : int or None, default=64
        As in :class:`CHMRClassifier`: ``"auto"`` and ``"blend"`` on more target columns train the plain head only.
    n_heads : int, default=2
        As in :class:`CHMRClassifier`: the heads' predictions are averaged (in the targets'
        units; the targets are standardized with the first head's training rows for every
        head). On the validation splits of ``head_defaults_offsets.md`` two heads beat the
        single heads' mean on all 6 regression sets (MAE: ESOL 0.780 -> 0.731, FreeSolv
        2.138 -> 2.078, Lipophilicity 0.616 -> 0.609, CHEMBL2047_EC50 0.492 -> 0.451,
        CHEMBL4203_Ki 0.593 -> 0.578, CHEMBL2835_Ki 0.296 -> 0.287), and on all 6 in the
        earlier run of ``head_defaults.md``. Four heads (protocol splits, 3 seeds,
        ``benchmarks/results/downstream_nheads4.md``) were better on ESOL (0.633 -> 0.593) and
        Lipophilicity (0.559 -> 0.553) but worse on FreeSolv (1.724 -> 1.825), at twice the fit
        time: the default stays 2.
    descriptors : bool or "fragments", default=True
        Put 79 RDKit 2D descriptors of each molecule
        (:class:`~chmr_sklearn.featurize.DescriptorFeaturizer`: Crippen logP and molar
        refractivity, TPSA, weights, H-bond and ring counts, shape indices, surface-area bins)
        in front of the embedding the heads train on: ``sign(d) * log1p(|d|)``, standardized
        with the mean and std over the molecules given to ``fit`` (``descriptor_mean_``,
        ``descriptor_scale_``), clipped to +-6. The residual forest sees them too, beside the
        fingerprint bits. Why: the embedding encodes substructures and their biological
        context; whole-molecule sums such as logP it only approximates, and they drive
        physical-chemistry endpoints. On the protocol's validation splits (3 seeds,
        ``benchmarks/results/downstream_defaults.md``) the MAE fell on all three MoleculeNet
        regression sets (ESOL 0.676 -> 0.633, FreeSolv 1.984 -> 1.724, Lipophilicity
        0.605 -> 0.559); on the inner validation parts of three MoleculeACE sets
        (``head_defaults_descriptors.md``, 2 seeds) on all three (CHEMBL2835_Ki 0.289 -> 0.287,
        CHEMBL4203_Ki 0.576 -> 0.569, CHEMBL2047_EC50 0.463 -> 0.451). Ignored with
        ``transformer="passthrough"`` (no molecules to describe). Cost: about 1 ms a
        molecule, in ``n_jobs`` workers. ``"fragments"`` adds RDKit's 85 functional-group
        counts (:data:`~chmr_sklearn.featurize.descriptors.FRAGMENT_NAMES`: acids, amines,
        amidines, phenols, ...; 164 columns in all, about 0.4 ms a molecule more). On the
        protocol's validation splits (3 seeds, ``benchmarks/results/downstream_fragments.md``)
        they lowered the MAE on Lipophilicity (0.559 -> 0.544) and ESOL (0.633 -> 0.593) but
        raised it on FreeSolv (1.724 -> 1.887), and left three MoleculeACE sets unchanged on
        average, so the default stays ``True``. Try them on logD- or solubility-type endpoints:
        on Lipophilicity's test split they reach chemprop (MAE 0.528 vs 0.528). Choose between
        the two with a scaffold-grouped search (``GridSearchCV(..., cv=GroupKFold())`` with
        :func:`~chmr_sklearn.model_selection.scaffold_groups`), not on the estimator's own
        internal split: on FreeSolv and ESOL (3 seeds each) the heads' random 10 % validation
        rows preferred the block the scaffold validation split preferred in only 3 of 6 fits,
        which is why there is no ``descriptors="auto"``.
    checkpoint_dir : str or Path, optional
        Resumable ``fit``, as in :class:`CHMRClassifier`.

    Attributes
    ----------
    heads_ : list of FittedHead
        The trained heads, as in :class:`CHMRClassifier`.
    rf_residual_ : bool
        Whether the first head adds the forest's offset (``"blend"``: whether the heavier of its
        two variants does).
    rf_residual_scores_ : dict of bool to float
        The first head's validation MAE of each variant trained, keyed by ``rf_residual_``'s value.
    rf_residual_weights_ : dict of bool to float
        The first head's weight of each variant in its prediction (``{rf_residual_: 1.0}``
        unless blended).
    y_mean_, y_scale_ : ndarray of shape (n_tasks,)
        Per-task standardization of the targets (training rows).
    descriptor_mean_, descriptor_scale_ : ndarray of shape (79,) or (164,)
        Standardization of the signed-log descriptors (``descriptors=True`` or ``"fragments"``
        with molecule input).

    Examples
    --------
    >>> from chmr_sklearn import CHMRRegressor
    >>> X = ["CCO", "CCCO", "CCCCO", "CCCCCO", "CCCCCCO", "CC(C)O", "c1ccccc1", "c1ccccc1C",
    ...      "c1ccccc1CC", "c1ccncc1", "C1CCCCC1", "c1ccc2ccccc2c1"]
    >>> y = [0.1, 0.5, 0.9, 1.3, 1.7, 0.4, 2.0, 2.5, 3.0, 0.7, 3.4, 3.3]
    >>> reg = CHMRRegressor(max_epochs=5, rf_n_estimators=20, random_state=0).fit(X, y)
    >>> reg.predict(["CCO", "c1ccccc1"]).shape
    (2,)
    >>> sorted(reg.rf_residual_scores_) == [False, True] and reg.rf_residual_ in (False, True)
    True
    >>> round(sum(reg.rf_residual_weights_.values()), 6)
    1.0
    """

    _parameter_constraints: ClassVar[dict] = {**CHMRHeadEstimator._parameter_constraints,
                                              "loss": [StrOptions({"l1", "mse"})]}

    def __init__(self, transformer=None, *, loss="l1", hidden=1200, dropout=0.5, norm="layer", lr=1e-4,
                 batch_size=256, max_epochs=100, patience=20, weight_decay=1e-5, validation_fraction=0.1,
                 validation_split="random", rf_residual="blend", gamma=0.1, rf_n_estimators=500, rf_refit=False,
                 rf_offsets="oob", rf_max_tasks=64, n_heads=2, descriptors=True, memory=None, smiles_col="smiles",
                 on_invalid="raise", n_jobs=None, device="auto", random_state=None, warm_start=False,
                 checkpoint_dir=None, verbose=0):
        self.transformer = transformer
        self.loss = loss
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

    @property
    def _loss_kind(self) -> str:
        return self.loss

    def fit(self, X, y, validation_data=None):
        """Embed ``X`` once and train the head on ``y`` ((n,) or (n, n_tasks), NaN = missing).

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol
        y : array-like
        validation_data : tuple (X_valid, y_valid), optional
            Validation set (early stopping, ``"auto"`` / ``"blend"``) used instead of the internal split.

        Returns
        -------
        self
        """
        return self._fit_or_reset(X, y, validation_data)

    def _encode_y(self, y, *, fitting: bool) -> np.ndarray:
        if y is None:
            raise ValueError("CHMRRegressor requires y to be passed, but the target y is None.")
        names = list(map(str, y.columns)) if isinstance(y, pd.DataFrame) else None
        try:
            Y = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError("Regression targets must be numeric (NaN for missing).") from err
        if np.isinf(Y).any():
            raise ValueError("Regression targets contain inf.")
        single = Y.ndim == 1
        Y = Y[:, None] if single else Y
        if Y.ndim != 2:
            raise ValueError(f"y must be 1-D or 2-D, got {Y.ndim} dimensions.")
        if fitting:
            empty = np.flatnonzero(np.isnan(Y).all(axis=0))
            if len(empty):
                which = [names[i] for i in empty] if names else empty.tolist()
                raise ValueError(f"Task(s) {which[:20]} have no target value at all (all NaN).")
            self.single_output_ = single
            self.task_names_ = names
            self.n_tasks_ = Y.shape[1]
        elif Y.shape[1] != self.n_tasks_:
            raise ValueError(f"y has {Y.shape[1]} tasks, the regressor was fitted on {self.n_tasks_}.")
        return Y

    def _scale_y(self, Y: np.ndarray, fitting: bool = False) -> np.ndarray:
        if fitting:
            # float64 statistics: in float32 the variance of targets beyond ~1e19 overflows
            # to inf and every scaled target became NaN.
            self.y_mean_ = np.nanmean(Y.astype(np.float64), axis=0).astype(np.float32)
            std = np.nanstd(Y.astype(np.float64), axis=0)
            self.y_scale_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        return ((Y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _scale_offset(self, offset: np.ndarray) -> np.ndarray:
        return self._scale_y(offset)

    def _monitor(self, Yv: np.ndarray) -> tuple[str, bool]:
        return "valid_mae", True

    def _valid_score(self, y_scaled: np.ndarray, pred_scaled: np.ndarray) -> float:
        from ..model_selection import mean_mae

        return mean_mae(y_scaled * self.y_scale_ + self.y_mean_, pred_scaled * self.y_scale_ + self.y_mean_)

    def predict(self, X) -> np.ndarray:
        """Predictions in the target's units: (n,) for one task, else (n, n_tasks); NaN rows
        for invalid molecules (``on_invalid="nan"``)."""
        out = self._raw_output(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.single_output_ else out

    def score(self, X, y, sample_weight=None) -> float:
        """R² (coefficient of determination), as scikit-learn's ``score``; NaN-aware over tasks.

        Each task's R² over its labelled rows, averaged over tasks (``r2_score``'s
        ``"uniform_average"``); equal to ``r2_score(y, predict(X))`` when nothing is missing.

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol (or embeddings)
        y : array-like of shape (n,) or (n, n_tasks); NaN = missing
        sample_weight : array-like of shape (n,), optional

        Returns
        -------
        float
        """
        from ..model_selection import mean_r2

        Y = self._encode_y(y, fitting=False)
        pred = self._raw_output(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return mean_r2(Y, pred, sample_weight=sample_weight)
