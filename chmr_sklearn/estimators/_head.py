"""Shared machinery of CHMRClassifier / CHMRRegressor: frozen embedding + skorch-trained head.

The pipeline of a fit:

1. embed the molecules once with the (frozen, eval-mode) ``transformer`` — optionally through
   a ``joblib.Memory`` so a grid search over head parameters never re-embeds — and, with
   ``descriptors=True``, put 79 scaled RDKit descriptors (164 with ``"fragments"``) in front of it;
2. hold out a validation split (or take the user's ``validation_data``): whole Murcko
   scaffold groups when the input holds molecules, random rows for numeric input;
3. fit the random-forest residual on the training rows when a head needs it;
4. train the head with skorch: masked loss over labelled entries, the NaN-aware metric on the
   validation split each epoch, early stopping that restores the best epoch; with
   ``checkpoint_dir`` every epoch is checkpointed and an interrupted fit resumes (``_resume.py``);
5. with ``rf_residual="auto"`` train each head both without and with the forest's offset and
   keep what the validation scores favour: per head for the regressor, for all heads at once
   for the classifier (``_choose``); with ``"blend"`` keep both, weighted by those scores
   (``_blend_weights``).
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import joblib
import numpy as np
import torch
from joblib import Memory
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data
from skorch import NeuralNet
from torch import nn

from .._inputs import molecule_column, to_smiles
from .._runtime import resolve_device
from ..featurize.descriptors import DescriptorFeaturizer
from ..model_selection._split import _group_lists, _scaffold_keys
from ..nn import MLPHead
from ..nn._random import init_parameters, set_dropout_generator
from ..nn.losses import masked_bce_loss, masked_l1_loss, masked_mse_loss
from ._engine import effective_workers
from ._resume import ResumeCheckpoint, fingerprint, read_checkpoint
from .rf_residual import RandomForestResidual
from .transformer import CHMRTransformer

__all__ = ["CHMRHeadEstimator", "FittedHead", "HeadModule", "MaskedLoss"]


class HeadModule(nn.Module):
    """``MLPHead`` whose output is ``gamma * head(x) + offset`` when an offset is given.

    The offset carries the random-forest residual (a logit or a scaled prediction).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float, norm: str, gamma: float = 1.0):
        super().__init__()
        self.mlp = MLPHead(in_dim, hidden, out_dim, dropout=dropout, norm=norm)
        self.gamma = gamma

    def forward(self, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        out = self.mlp(x)
        return out if offset is None else self.gamma * out + offset


class MaskedLoss(nn.Module):
    """Task loss over labelled entries only (NaN targets are ignored)."""

    _LOSSES: ClassVar[dict] = {"bce": masked_bce_loss, "l1": masked_l1_loss, "mse": masked_mse_loss}

    def __init__(self, kind: str = "bce"):
        super().__init__()
        self.kind = kind

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return self._LOSSES[self.kind](y_pred, y_true)


class _HeadNet(NeuralNet):
    """skorch ``NeuralNet`` whose ``partial_fit`` lets ``KeyboardInterrupt`` propagate.

    skorch catches Ctrl-C in ``partial_fit``, runs ``on_train_end`` (early stopping then loads
    the best weights) and returns as if training had finished, so a caller cannot tell an
    interrupted fit from a complete one. Here the interrupt reaches the estimator, which
    leaves itself unfitted and re-raises it.
    """

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        routing_method = fit_params.pop("_routing_method", "partial_fit")
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, _routing_method=routing_method, **fit_params)
        except KeyboardInterrupt:
            # skorch's EarlyStopping stops training by raising KeyboardInterrupt itself: that
            # one is a normal end; any other is the user's Ctrl-C and propagates.
            if not self.early_stopped():
                raise
        self.notify("on_train_end", X=X, y=y)
        return self

    def early_stopped(self) -> bool:
        """Whether an EarlyStopping callback has run out of patience."""
        from skorch.callbacks import EarlyStopping

        return any(isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
                   for _, cb in self.callbacks_)


class FittedHead(NamedTuple):
    """One trained head of a fitted estimator (``heads_``)."""

    net: NeuralNet
    """The trained skorch net (``net.history`` holds its epoch table)."""
    rf: RandomForestResidual | None
    """The forest whose offset the head adds, or None."""
    rf_residual: bool
    """Whether the head adds the forest's offset (``"auto"``'s choice)."""
    scores: dict
    """Validation score of each variant trained, keyed by ``rf_residual``."""
    monitor: str | None
    """The metric ``scores`` and early stopping compare (None without validation rows)."""
    weights: dict | None = None
    """``rf_residual="blend"``: each variant's weight in the head's output, keyed like ``scores``
    (None: ``net`` alone gives it)."""
    nets: dict | None = None
    """``rf_residual="blend"``: every variant's net, keyed like ``scores`` (``net`` is the heavier one's)."""

    def variant_nets(self) -> dict:
        """The head's nets keyed by whether they add the forest's offset (one unless blended)."""
        return self.nets if self.nets is not None else {self.rf_residual: self.net}


# Power of the validation error in ``"blend"``'s weights. On the protocol's validation splits
# (3 seeds) 0 (plain mean) gave MAE ESOL 0.601, FreeSolv 1.758, Lipophilicity 0.547; keeping the
# better variant ("auto") 0.633, 1.724, 0.559; 8 gave 0.602, 1.730, 0.547.
_BLEND_POWER = 8.0


def _blend_weights(scores: dict, lower_is_better: bool) -> dict:
    """Weights of the variants, proportional to (validation error) ** -_BLEND_POWER, summing to 1.

    The error is the score itself when lower is better (MAE, loss), else ``1 - score``
    (ROC-AUC). Close scores give close weights; one variant clearly better takes nearly all.

    >>> {k: round(w, 3) for k, w in _blend_weights({False: 0.5, True: 0.5}, True).items()}
    {False: 0.5, True: 0.5}
    >>> round(_blend_weights({False: 0.60, True: 0.66}, True)[False], 3)
    0.682
    >>> round(_blend_weights({False: 0.80, True: 0.85}, False)[True], 3)
    0.909
    """
    errors = {v: s if lower_is_better else 1.0 - s for v, s in scores.items()}
    logs = {v: -_BLEND_POWER * np.log(max(e, 1e-12)) for v, e in errors.items()}
    top = max(logs.values())  # subtracted so an error near 0 cannot overflow exp
    raw = {v: float(np.exp(l - top)) for v, l in logs.items()}
    return {v: r / sum(raw.values()) for v, r in raw.items()}


class _Variants(NamedTuple):
    """One head's trained variants before the choice (:meth:`CHMRHeadEstimator._choose`)."""

    nets: dict
    forest: RandomForestResidual | None
    scores: dict
    preferred: bool
    weights: dict | None
    """``_blend_weights`` of the scores when both variants were scored, else None."""
    monitor: str | None
    seed: int
    held_out: bool
    """Whether validation rows were held out of the training rows (what ``rf_refit`` adds back)."""


def _head_seed(seed: int, index: int) -> int:
    """Seed of head ``index`` of a fit drawn with ``seed``: the fit's own for the first head.

    The others come from ``default_rng([seed, index])``, not ``seed + index``: a head's
    generators use ``seed``, ``seed + 1`` and ``seed + 2``, which neighbouring seeds would share.

    >>> _head_seed(7, 0), _head_seed(7, 1) == _head_seed(7, 1) != _head_seed(8, 1)
    (7, True)
    """
    return seed if index == 0 else int(np.random.default_rng([seed, index]).integers(2**31 - 1))


def _embed(transformer, X, transformer_key: str) -> np.ndarray:
    # Module-level so joblib.Memory can cache it, keyed on transformer_key and X (not on the
    # transformer object: see _transformer_key).
    return np.asarray(transformer.transform(X), dtype=np.float32)


def _transformer_key(transformer) -> str:
    """Deterministic hash of a fitted transformer for joblib.Memory.

    torch pickles a tensor with its memory address, so joblib's hash of a CHMR transformer
    changed with every load and grid-search clones never hit the cache; hash its weights as
    numpy arrays instead.
    """
    model = getattr(transformer, "model_", None)
    if not isinstance(model, nn.Module):
        return joblib.hash(transformer)
    weights = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    rest = {k: v for k, v in transformer.__getstate__().items() if k not in ("model_", "device_")}
    return joblib.hash((weights, rest))


def _scaffold_group_keys(molecules: np.ndarray) -> list:
    """Murcko scaffold of each molecule (stereo kept); an acyclic molecule is its own group."""
    keys = _scaffold_keys(molecules, None, include_chirality=True)
    return [("acyclic", to_smiles(mol)) if key == ("scaffold", "") else key for key, mol in zip(keys, molecules)]


def _scaffold_group_ids(molecules: np.ndarray) -> np.ndarray:
    """One integer per scaffold group (``_scaffold_group_keys``), for ``GroupKFold``."""
    ids: dict = {}
    return np.array([ids.setdefault(key, len(ids)) for key in _scaffold_group_keys(molecules)], dtype=np.intp)


def _scaffold_holdout(molecules: np.ndarray, n_valid: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of whole Murcko scaffold groups, taken in a seeded random order, <= ``n_valid`` rows.

    A group that would overshoot ``n_valid`` is skipped, so the result is empty when every
    group is larger. Scaffolds are ``scaffold_groups``'s (stereo kept); an acyclic molecule has
    no ring system to share, so each distinct one is a group of its own (identical copies stay
    together) instead of all of them forming one "empty scaffold" group.

    Examples
    --------
    Groups: benzene {0, 1}, ethanol {2, 5}, ethylamine {3}, cyclopropane {4}. One row can
    only be a singleton group:

    >>> mols = np.array(["c1ccccc1O", "c1ccccc1N", "CCO", "CCN", "C1CC1", "CCO"], dtype=object)
    >>> _scaffold_holdout(mols, 1, np.random.default_rng(0)).tolist() in ([3], [4])
    True
    """
    groups = _group_lists(_scaffold_group_keys(molecules))
    held: list[int] = []
    for g in rng.permutation(len(groups)):
        if len(held) + len(groups[g]) <= n_valid:
            held.extend(groups[g])
    return np.sort(np.asarray(held, dtype=np.intp))


class CHMRHeadEstimator(BaseEstimator):
    """Base class; use :class:`CHMRClassifier` or :class:`CHMRRegressor`."""

    _parameter_constraints: ClassVar[dict] = {
        "transformer": [HasMethods(["fit", "transform"]), StrOptions({"passthrough"}), None],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "norm": [StrOptions({"layer", "batch"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "validation_split": [StrOptions({"scaffold", "random"})],
        "rf_residual": ["boolean", StrOptions({"auto", "blend"})],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "rf_n_estimators": [Interval(Integral, 1, None, closed="left")],
        "rf_refit": ["boolean"],
        "rf_offsets": [StrOptions({"oob", "scaffold"})],
        "rf_max_tasks": [Interval(Integral, 1, None, closed="left"), None],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "descriptors": ["boolean", StrOptions({"fragments"})],
        "memory": [None, str, HasMethods(["cache"])],
        "smiles_col": [str, Integral],
        "on_invalid": [StrOptions({"raise", "nan"})],
        "n_jobs": [Integral, None],
        "device": [str],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [None, str, os.PathLike],
        "verbose": ["verbose"],
    }
    _loss_kind = "bce"
    # What a model pickled before the parameter existed did (its __dict__ lacks it); __init__ sets it.
    descriptors = False

    # ---- input / target handling --------------------------------------------------------
    def _passthrough(self) -> bool:
        return isinstance(self.transformer, str) and self.transformer == "passthrough"

    def _embed_input(self, X, *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """Embedding rows and their validity (False: invalid molecule, NaN row)."""
        if fitting:  # a refit without descriptors must not keep an earlier fit's scaling
            for name in ("descriptor_mean_", "descriptor_scale_"):
                self.__dict__.pop(name, None)
        if self._passthrough():
            E = validate_data(self, X, reset=fitting, dtype=np.float32, ensure_all_finite="allow-nan")
            valid = ~np.isnan(E).any(axis=1)
            if not valid.all() and self.on_invalid == "raise":
                raise ValueError(f"{(~valid).sum()} input row(s) contain NaN: rows {np.flatnonzero(~valid)[:50].tolist()}.")
            return E, valid
        if fitting:
            base = CHMRTransformer() if self.transformer is None else clone(self.transformer)
            overrides = {k: getattr(self, k) for k in ("smiles_col", "on_invalid", "n_jobs", "device")
                         if k in base.get_params()}
            self.transformer_ = base.set_params(**overrides).fit(X)
            self.n_features_in_ = self.transformer_.n_features_in_
            if hasattr(self.transformer_, "feature_names_in_"):
                self.feature_names_in_ = self.transformer_.feature_names_in_
        memory = check_memory(self.memory)
        if isinstance(memory, Memory) and memory.location:
            E = memory.cache(_embed, ignore=["transformer"])(self.transformer_, X, _transformer_key(self.transformer_))
        else:
            E = _embed(self.transformer_, X, "")
        if self.descriptors:
            E = np.hstack([self._describe(X, fitting=fitting), E])
        return E, ~np.isnan(E).any(axis=1)

    def _describe(self, X, *, fitting: bool) -> np.ndarray:
        """The RDKit descriptors of ``X``, signed-log scaled and standardized on the fit's molecules.

        log1p first: sizes, surface areas and shape indices have long right tails that would
        otherwise put a few molecules at tens of standard deviations. Clipped to +-6 so that an
        unusual molecule at prediction time cannot saturate the head. NaN rows stay NaN.
        """
        D = self._descriptor_featurizer().fit_transform(X)
        D = np.sign(D) * np.log1p(np.abs(D))
        if fitting:
            finite = D[np.isfinite(D).all(axis=1)]
            std = finite.std(axis=0) if len(finite) else np.ones(D.shape[1])
            self.descriptor_mean_ = finite.mean(axis=0) if len(finite) else np.zeros(D.shape[1])
            self.descriptor_scale_ = np.where(std > 1e-8, std, 1.0)
        return np.clip((D - self.descriptor_mean_) / self.descriptor_scale_, -6, 6).astype(np.float32)

    def _descriptor_featurizer(self) -> DescriptorFeaturizer:
        """The featurizer behind ``descriptors`` (invalid molecules give NaN rows, as in the embedding)."""
        return DescriptorFeaturizer(fragments=self.descriptors == "fragments", smiles_col=self.smiles_col,
                                    on_invalid="nan", n_jobs=self.n_jobs)

    def _n_descriptors(self) -> int:
        """How many descriptor columns ``_embed_input`` puts in front of the embedding."""
        return self._descriptor_featurizer().n_features_out if self.descriptors else 0

    def _forest_columns(self) -> slice:
        """Columns the random forest sees: the descriptors and the fingerprint block of a CHMR concat embedding.

        The descriptors come first (``_embed_input``), so both blocks are one slice.
        """
        t = getattr(self, "transformer_", None)
        if isinstance(t, CHMRTransformer) and t.output == "concat":
            return slice(0, self._n_descriptors() + t.config_.fp_bits + 167)
        return slice(None)

    def _seed(self) -> int:
        """One seed per ``fit`` (``check_random_state`` semantics, without numpy's global RNG).

        An int is used as is; a ``RandomState`` instance is drawn from once per fit; ``None``
        draws fresh OS entropy (``np.random.randint`` would read and advance the global
        generator, which threads share).
        """
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(rs, Integral):
            return int(rs)
        return int(rs.randint(2**31 - 1))

    # ---- fitting ------------------------------------------------------------------------
    def _fit_or_reset(self, X, y, validation_data=None):
        """Validate, encode ``y`` and train; on Ctrl-C leave the estimator unfitted and re-raise.

        A ``KeyboardInterrupt`` anywhere in ``fit`` (embedding, forest, an epoch, a checkpoint
        write) removes every fitted attribute, so a half-trained head is never mistaken for a
        fitted one; with ``checkpoint_dir`` the last completed epoch stays on disk and the
        next ``fit`` with the same arguments resumes from it.
        """
        self._validate_params()
        try:
            return self._fit(X, self._encode_y(y, fitting=True), validation_data)
        except KeyboardInterrupt as err:
            for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
                delattr(self, name)
            path = getattr(err, "checkpoint_path", None)
            if path is not None and Path(path).is_file():
                raise KeyboardInterrupt(f"Head training interrupted; the estimator is unfitted. Fit again with the "
                                        f"same arguments to resume from {path}.") from err
            raise

    def _fit(self, X, Y: np.ndarray, validation_data=None):
        """Train ``n_heads`` heads on targets ``Y`` (n, T) float with NaN = unlabelled.

        The embedding is computed once; each head is trained as a fit with its own seed
        would train it (``_train_variants``), then :meth:`_choose` decides which variant
        every head keeps. The first head's seed is the fit's seed, so ``n_heads=1`` is the
        single-head estimator.
        """
        E, valid = self._embed_input(X, fitting=True)
        if len(E) != len(Y):
            raise ValueError(f"X has {len(E)} rows but y has {len(Y)}.")
        rows = np.flatnonzero(valid & ~np.isnan(Y).all(axis=1))  # all-NaN targets teach nothing
        if len(rows) < 2:
            raise ValueError(f"Only {len(rows)} sample(s) have a valid molecule and at least one label; need >= 2.")
        user_valid = self._user_validation(validation_data)
        reuse = self.warm_start and hasattr(self, "heads_") and len(self.heads_) == self.n_heads \
            and self.net_.module_.mlp.in_dim == E.shape[1] and self.net_.module_.mlp.out_dim == Y.shape[1]
        plan = {i: self._variants(i, reuse, Y.shape[1]) for i in range(self.n_heads)}
        paths = {} if self.checkpoint_dir is None or reuse else \
            {(i, v): self._checkpoint_path(i, v, E[rows], Y[rows], *user_valid) for i in plan for v in plan[i]}
        saved = {key: read_checkpoint(path) for key, path in paths.items() if path.is_file()}
        # A resumed fit continues with the seed it drew (random_state=None or a RandomState).
        seed = int(next(iter(saved.values()))["seed"]) if saved else self._seed()
        trained = []
        for i, variants in plan.items():
            run = {"seed": _head_seed(seed, i), "fit_seed": seed, "variants": variants,
                   "nets": self.heads_[i].variant_nets() if reuse else {},
                   "paths": {v: paths[i, v] for v in variants if (i, v) in paths},
                   "saved": {v: saved[i, v] for v in variants if (i, v) in saved}}
            trained.append(self._train_variants(X, E, Y, rows, user_valid, run, first=i == 0))
        chosen = self._choose([t.preferred for t in trained], [len(t.scores) == 2 for t in trained])
        heads = [self._keep(t, c, E, Y, rows) for t, c in zip(trained, chosen)]
        for path in paths.values():  # a completed fit leaves no checkpoint behind
            path.unlink(missing_ok=True)
        self.heads_ = heads
        self.n_tasks_ = Y.shape[1]
        return self

    def _train_variants(self, X, E, Y, rows, user_valid, run: dict, first: bool) -> _Variants:
        """One head's variants: its validation split, forest and nets, from ``run["seed"]``.

        With ``rf_residual="auto"`` the plain head and the head on the forest's offsets are
        trained on the same rows, from the same seed, against the same validation rows; the
        one with the better validation score is the head's preference (the plain one on a
        tie), and :meth:`_choose` decides. Target scaling (regressor) is fitted on the first
        head's training rows and shared.
        """
        seed, variants = run["seed"], run["variants"]
        Ev, Yv = user_valid
        if Ev is None:
            train_rows, valid_rows = self._internal_split(X, rows, seed)
            Ev, Yv = E[valid_rows], Y[valid_rows]
        else:
            train_rows = rows
        if not len(Ev):
            variants = variants[:1]  # nothing to choose on: "auto" means the plain head

        Et, Yt = E[train_rows], Y[train_rows]
        Yt_s = self._scale_y(Yt, fitting=first)
        validation = (Ev, self._scale_y(Yv), *self._monitor(Yv)) if len(Ev) else None
        forest = None
        if True in variants:
            forest = self._new_forest(seed).fit(Et[:, self._forest_columns()], Yt,
                                                groups=self._forest_groups(X, train_rows))
        trained = {v: self._train_head(Et, Yt_s, validation, forest if v else None, run, v) for v in variants}
        scores = {v: score for v, (_, score) in trained.items() if score is not None}
        preferred, weights = variants[0], None
        if len(scores) == 2:
            lower = validation[3]
            preferred = bool(scores[True] < scores[False] if lower else scores[True] > scores[False])
            weights = _blend_weights(scores, lower)
        return _Variants({v: net for v, (net, _) in trained.items()}, forest, scores, preferred, weights,
                         None if validation is None else validation[2], seed, len(train_rows) < len(rows))

    def _choose(self, preferred: list[bool], contested: list[bool]) -> list[bool]:
        """Whether each head keeps the forest, from each head's preference (``"auto"``).

        ``contested[i]``: head ``i`` trained both variants and scored them. Here every head
        keeps what its own validation split preferred; :class:`CHMRClassifier` decides jointly.
        """
        return preferred

    def _keep(self, variants: _Variants, chosen: bool, E, Y, rows) -> FittedHead:
        """The head as kept: the chosen net (both, weighted, for ``"blend"``) and the forest they
        need (refitted on every row with ``rf_refit``)."""
        blend = self.rf_residual == "blend" and variants.weights is not None
        forest = variants.forest if chosen or blend else None
        if forest is not None and self.rf_refit and variants.held_out:
            forest = self._new_forest(variants.seed).fit(E[rows][:, self._forest_columns()], Y[rows])
        if not blend:
            return FittedHead(variants.nets[chosen], forest, chosen, variants.scores, variants.monitor)
        # The head's own preference is the heavier variant: it names the head (net_, rf_residual_).
        return FittedHead(variants.nets[variants.preferred], forest, variants.preferred, variants.scores,
                          variants.monitor, variants.weights, dict(variants.nets))

    def _new_forest(self, seed: int) -> RandomForestResidual:
        # n_jobs=None grows the trees on torch's cores, as the transformer featurizes on them
        # (one thread inside a joblib worker); the trees are the same for any n_jobs.
        return RandomForestResidual(task=self._loss_kind, n_estimators=self.rf_n_estimators, random_state=seed,
                                    n_jobs=effective_workers(self.n_jobs))

    def _forest_groups(self, X, rows: np.ndarray) -> np.ndarray | None:
        """Scaffold group of each training row for out-of-fold offsets (None: out-of-bag).

        Numbers (``transformer="passthrough"``) have no scaffolds: out-of-bag, as the internal
        validation split is random for them.
        """
        if self.rf_offsets == "oob" or self._passthrough():
            return None
        return _scaffold_group_ids(molecule_column(X, self.smiles_col).values[rows])

    def _user_validation(self, validation_data) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Embeddings and targets of ``validation_data`` (rows with a molecule and a label)."""
        if validation_data is None:
            return None, None
        Xv, yv = validation_data
        Ev, valid_v = self._embed_input(Xv, fitting=False)
        Yv = self._encode_y(yv, fitting=False)
        keep = valid_v & ~np.isnan(Yv).all(axis=1)
        return Ev[keep], Yv[keep]

    def _variants(self, index: int, reuse: bool, n_tasks: int) -> list[bool]:
        """Heads to train, by whether they add the forest's offset: both for "auto" and "blend".

        "auto"/"blend" with more than ``rf_max_tasks`` target columns train the plain head only
        (one forest per task would dominate the fit); a warm start continues the nets it kept.
        """
        if not isinstance(self.rf_residual, str):
            return [bool(self.rf_residual)]
        if reuse:
            return sorted(self.heads_[index].variant_nets())
        if self.rf_max_tasks is not None and n_tasks > self.rf_max_tasks:
            return [False]
        return [False, True]

    def _checkpoint_path(self, index: int, variant: bool, *data) -> Path:
        """One file per fit, head and variant (settings + data + which head, with or without the forest)."""
        key = fingerprint({**self._resume_settings(), "head": index, "variant": variant}, *data)
        return Path(self.checkpoint_dir) / f"head-{key}.pt"

    def _internal_split(self, X, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation rows when no ``validation_data`` is given.

        Whole scaffold groups with molecules as input and ``validation_split="scaffold"``,
        random rows otherwise (or when no scaffold group fits in the validation share).
        """
        if self.validation_fraction == 0 or len(rows) < 10:
            return rows, rows[:0]
        rng = np.random.default_rng(seed)
        n_valid = min(len(rows) - 1, max(1, round(self.validation_fraction * len(rows))))
        if self.validation_split == "scaffold" and not self._passthrough():
            held = _scaffold_holdout(molecule_column(X, self.smiles_col).values[rows], n_valid, rng)
            if len(held):
                return np.delete(rows, held), rows[held]
            warnings.warn(f"No scaffold group fits in the validation split ({n_valid} of {len(rows)} rows); "
                          "holding out random rows instead.", UserWarning, stacklevel=5)
        perm = rng.permutation(rows)
        return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])

    def _train_head(self, Et, Yt_s, validation, forest, run: dict, variant: bool) -> tuple[_HeadNet, float | None]:
        """Train one head (on the forest's offsets when ``forest`` is given) and score it.

        ``validation`` is ``(embeddings, scaled targets, monitor, lower_is_better)`` or None;
        the score is the kept epoch's value of the monitor on those rows (None without them).
        ``run`` holds the head's seed, the net a warm start continues, and its checkpoint.
        """
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        fp = self._forest_columns()
        Xt = Et if forest is None else {"x": Et, "offset": self._scale_offset(forest.oob_offset_)}
        callbacks, train_split = [], None
        if validation is not None:
            Ev, Yv_s, monitor, lower = validation
            Xv = Ev if forest is None else {"x": Ev, "offset": self._scale_offset(forest.offset(Ev[:, fp]))}
            train_split = predefined_split(Dataset(Xv, Yv_s))
            callbacks = self._stopping_callbacks(monitor, lower)
        device = resolve_device(self.device)
        seed, net = run["seed"], run["nets"].get(variant)
        if net is None:
            net = self._new_net(Et.shape[1], Yt_s.shape[1], seed, device, train_split)
        else:  # warm start: the existing weights, fresh generators for this fit's batches and dropout
            net.generators_ = self._generators(seed, device)
            # (attribute, not set_params: skorch 1.4's set_params refuses iterator params on an
            # initialized net; get_iterator reads the attribute)
            net.iterator_train__generator = net.generators_["shuffle"]
            set_dropout_generator(net.module_, net.generators_["dropout"])
        self._run_epochs(net, Xt, Yt_s, callbacks, train_split, run["fit_seed"], run["paths"].get(variant),
                         run["saved"].get(variant))
        return net, None if validation is None else self._validation_score(net, Xv, Yv_s, monitor)

    def _stopping_callbacks(self, monitor: str, lower: bool) -> list:
        """The validation metric each epoch and early stopping that restores the best epoch."""
        from skorch.callbacks import EarlyStopping, EpochScoring

        callbacks = []
        if monitor != "valid_loss":
            callbacks.append(("valid_metric", EpochScoring(self._epoch_metric, lower_is_better=lower, name=monitor,
                                                           use_caching=True)))
        if self.patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(monitor=monitor, patience=self.patience,
                                                              lower_is_better=lower, load_best=True)))
        return callbacks

    def _run_epochs(self, net, Xt, Yt_s, callbacks, train_split, fit_seed, path, saved) -> None:
        """Train ``net`` (resuming from ``saved`` when given), then drop its random generators.

        ``fit_seed`` (the fit's, not the head's) goes into the checkpoint for a resumed fit to reuse.
        """
        resume = None
        if path is not None:
            resume = ResumeCheckpoint(path, seed=fit_seed, generators=net.generators_)
            callbacks = [*callbacks, ("resume", resume)]  # last: it saves what the other callbacks updated
        net.set_params(train_split=train_split, callbacks=callbacks, max_epochs=self.max_epochs)
        net.initialize_callbacks()
        try:
            if saved is not None:
                done = resume.restore(net, saved)
                net.partial_fit(Xt, Yt_s, epochs=max(0, self.max_epochs - done))
            else:
                net.partial_fit(Xt, Yt_s)
        except KeyboardInterrupt as err:
            err.checkpoint_path = None if resume is None else resume.path
            raise
        if resume is not None:
            resume.generators = None
        # A fitted head carries no random state: it pickles small and loads without the
        # device its (possibly CUDA) dropout generator lived on.
        set_dropout_generator(net.module_, None)
        net.iterator_train__generator = None
        del net.generators_
        net.module_.eval()

    def _validation_score(self, net, Xv, Yv_s: np.ndarray, monitor: str) -> float:
        """The trained head's monitored metric on the validation rows (the loss if that is the monitor)."""
        if monitor != "valid_loss":
            return self._epoch_metric(net, Xv, Yv_s)
        pred = net.forward(Xv, training=False)
        return float(net.criterion_(pred, torch.as_tensor(Yv_s, device=pred.device)))

    def _new_net(self, in_dim: int, out_dim: int, seed: int, device, train_split) -> _HeadNet:
        """An initialized head whose randomness comes only from generators seeded by ``seed``.

        Weights are drawn from a local generator, batches are shuffled by the DataLoader's
        own generator and dropout masks come from a third one; torch's global generator is
        never read or seeded, so fits in threads (GridSearchCV with the threading backend)
        do not disturb each other. (``torch.random.fork_rng`` would not help: it saves and
        restores the one process-wide state, which is not thread-safe.)
        """
        generators = self._generators(seed, device)
        net = _HeadNet(
            module=HeadModule, module__in_dim=in_dim, module__hidden=self.hidden, module__out_dim=out_dim,
            module__dropout=self.dropout, module__norm=self.norm, module__gamma=self.gamma,
            criterion=MaskedLoss, criterion__kind=self._loss_kind, optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay, lr=self.lr, max_epochs=self.max_epochs,
            batch_size=self.batch_size, iterator_train__shuffle=True,
            iterator_train__generator=generators["shuffle"], train_split=train_split,
            device=str(device), verbose=int(self.verbose), warm_start=True,
        )
        net.generators_ = generators
        net.initialize()
        module = net.module_.to("cpu")  # the init generator is a CPU one; .to() keeps the Parameters
        init_parameters(module, torch.Generator().manual_seed(seed))
        set_dropout_generator(module.to(device), generators["dropout"])
        return net

    @staticmethod
    def _generators(seed: int, device) -> dict[str, torch.Generator]:
        """The fit's own generators: batch order (CPU, as the DataLoader needs) and dropout."""
        return {"shuffle": torch.Generator().manual_seed(seed + 1),
                "dropout": torch.Generator(device=device).manual_seed(seed + 2)}

    def _resume_settings(self) -> dict[str, Any]:
        """What a checkpoint must agree on besides the data (execution-only knobs left out).

        An int ``random_state`` is part of the key; ``None`` or a ``RandomState`` is not (the
        seed drawn by the interrupted fit is stored in its checkpoint and reused), so such a
        fit resumes too and repeated interrupted fits share one file instead of piling up.
        """
        skip = {"transformer", "memory", "checkpoint_dir", "verbose", "n_jobs", "device", "warm_start", "smiles_col",
                "on_invalid", "random_state"}
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in skip}
        rs = self.random_state
        return {**params, "estimator": type(self).__name__, "seed": int(rs) if isinstance(rs, Integral) else None}

    def _epoch_metric(self, net, X, y) -> float:
        pred = net.forward(X, training=False).detach().cpu().numpy()
        return self._valid_score(np.asarray(y, dtype=np.float32), pred)

    def _scale_y(self, Y: np.ndarray, fitting: bool = False) -> np.ndarray:
        return Y.astype(np.float32)

    def _scale_offset(self, offset: np.ndarray) -> np.ndarray:
        return offset.astype(np.float32)

    # ---- prediction ---------------------------------------------------------------------
    def _raw_output(self, X) -> np.ndarray:
        """Combined head output (logits / scaled values) per row; NaN rows for invalid molecules."""
        check_is_fitted(self, "heads_")
        E, valid = self._embed_input(X, fitting=False)
        out = np.full((len(E), self.n_tasks_), np.nan, dtype=np.float32)
        if valid.any():
            Ev = E[valid]
            outputs = [self._head_output(head, Ev) for head in self.heads_]
            out[valid] = outputs[0] if len(outputs) == 1 else self._combine(np.stack(outputs))
        return out

    def _head_output(self, head: FittedHead, Ev: np.ndarray) -> np.ndarray:
        """One head's output (logits / scaled values): its net's, or its variants' weighted sum."""
        offset = None
        if head.rf is not None:
            offset = self._scale_offset(head.rf.offset(Ev[:, self._forest_columns()]))
        if head.weights is None:
            return self._net_output(head.net, Ev, offset)
        return sum(w * self._net_output(head.nets[v], Ev, offset if v else None) for v, w in head.weights.items())

    @staticmethod
    def _net_output(net: NeuralNet, Ev: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
        inputs: Any = Ev if offset is None else {"x": Ev, "offset": offset}
        return net.forward(inputs, training=False).detach().cpu().numpy()

    def _combine(self, outputs: np.ndarray) -> np.ndarray:
        """The ensemble's output from the heads' (n_heads, n, T) outputs: their mean here."""
        return outputs.mean(axis=0)

    # ---- the first head, under the single-head names ----------------------------------------
    @property
    def net_(self) -> NeuralNet:
        """The first head's skorch net (every head's: ``heads_``)."""
        return self.heads_[0].net

    @property
    def rf_(self) -> RandomForestResidual | None:
        """The first head's forest, or None when it does not add one."""
        return self.heads_[0].rf

    @property
    def rf_residual_(self) -> bool:
        """Whether the first head adds the forest's offset."""
        return self.heads_[0].rf_residual

    @property
    def rf_residual_scores_(self) -> dict:
        """The first head's validation score of each variant trained."""
        return self.heads_[0].scores

    @property
    def rf_residual_weights_(self) -> dict:
        """The first head's weight of each variant in its output: both for ``"blend"``, else the kept one's 1.0."""
        head = self.heads_[0]
        return dict(head.weights) if head.weights is not None else {head.rf_residual: 1.0}

    @property
    def monitor_(self) -> str | None:
        """The first head's validation metric (None without validation rows)."""
        return self.heads_[0].monitor

    @property
    def n_epochs_(self) -> int:
        """Epochs the first head ran."""
        return len(self.heads_[0].net.history)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if not self._passthrough():
            tags.input_tags.string = True
        # On embeddings a NaN row is an invalid molecule: accepted (NaN output) only with
        # on_invalid="nan"; with "raise" it is refused, so the tag must say no.
        tags.input_tags.allow_nan = not self._passthrough() or self.on_invalid == "nan"
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = self.random_state is None
        return tags
