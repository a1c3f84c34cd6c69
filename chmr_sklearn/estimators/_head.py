"""Shared machinery of CHMRClassifier / CHMRRegressor: frozen embedding + skorch-trained head.

The pipeline of a fit:

1. embed the molecules once with the (frozen, eval-mode) ``transformer`` — optionally through
   a ``joblib.Memory`` so a grid search over head parameters never re-embeds;
2. hold out a validation split (or take the user's ``validation_data``);
3. optionally fit the random-forest residual on the training rows;
4. train the head with skorch: masked loss over labelled entries, the NaN-aware metric on the
   validation split each epoch, early stopping that restores the best epoch; with
   ``checkpoint_dir`` every epoch is checkpointed and an interrupted fit resumes (``_resume.py``).
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import torch
from joblib import Memory
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data
from skorch import NeuralNet
from torch import nn

from .._runtime import resolve_device
from ..nn import MLPHead
from ..nn.losses import masked_bce_loss, masked_l1_loss, masked_mse_loss
from ..nn._random import init_parameters, set_dropout_generator
from ._resume import ResumeCheckpoint, fingerprint, read_checkpoint
from .rf_residual import RandomForestResidual
from .transformer import CHMRTransformer

__all__ = ["CHMRHeadEstimator", "HeadModule", "MaskedLoss"]


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
        "rf_residual": ["boolean"],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "rf_n_estimators": [Interval(Integral, 1, None, closed="left")],
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

    # ---- input / target handling --------------------------------------------------------
    def _passthrough(self) -> bool:
        return isinstance(self.transformer, str) and self.transformer == "passthrough"

    def _embed_input(self, X, *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """Embedding rows and their validity (False: invalid molecule, NaN row)."""
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
        return E, ~np.isnan(E).any(axis=1)

    def _fp_columns(self) -> slice:
        """Columns the random forest sees: the fingerprint block of a CHMR concat embedding."""
        t = getattr(self, "transformer_", None)
        if isinstance(t, CHMRTransformer) and t.output == "concat":
            return slice(0, t.config_.fp_bits + 167)
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
        """Train the head on targets ``Y`` (n, T) float with NaN = unlabelled."""
        from skorch.callbacks import EarlyStopping, EpochScoring
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        E, valid = self._embed_input(X, fitting=True)
        if len(E) != len(Y):
            raise ValueError(f"X has {len(E)} rows but y has {len(Y)}.")
        usable = valid & ~np.isnan(Y).all(axis=1)  # all-NaN targets teach nothing
        rows = np.flatnonzero(usable)
        if len(rows) < 2:
            raise ValueError(f"Only {len(rows)} sample(s) have a valid molecule and at least one label; need >= 2.")
        Ev = Yv = None
        if validation_data is not None:
            Xv, yv = validation_data
            Ev, valid_v = self._embed_input(Xv, fitting=False)
            Yv = self._encode_y(yv, fitting=False)
            keep = valid_v & ~np.isnan(Yv).all(axis=1)
            Ev, Yv = Ev[keep], Yv[keep]

        reuse = self.warm_start and hasattr(self, "net_") and self.net_.module_.mlp.in_dim == E.shape[1] \
            and self.net_.module_.mlp.out_dim == Y.shape[1]
        saved = None
        if self.checkpoint_dir is not None and not reuse:
            key = fingerprint(self._resume_settings(), E[rows], Y[rows], Ev, Yv)
            path = Path(self.checkpoint_dir) / f"head-{key}.pt"
            saved = read_checkpoint(path) if path.is_file() else None
        # A resumed fit continues with the seed it drew (random_state=None or a RandomState).
        seed = int(saved["seed"]) if saved is not None else self._seed()
        rng = np.random.default_rng(seed)

        if Ev is not None:
            train_rows = rows
        elif self.validation_fraction > 0 and len(rows) >= 10:
            perm = rng.permutation(rows)
            n_valid = max(1, round(self.validation_fraction * len(rows)))
            train_rows, valid_rows = np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
            Ev, Yv = E[valid_rows], Y[valid_rows]
        else:
            train_rows = rows

        Et, Yt = E[train_rows], Y[train_rows]
        Yt_s, Yv_s = self._scale_y(Yt, fitting=True), (None if Yv is None else self._scale_y(Yv))
        fp = self._fp_columns()
        if self.rf_residual:
            self.rf_ = RandomForestResidual(task=self._loss_kind, n_estimators=self.rf_n_estimators,
                                            random_state=seed, n_jobs=self.n_jobs).fit(Et[:, fp], Yt)
            Xt_in = {"x": Et, "offset": self._scale_offset(self.rf_.oob_offset_)}
            Xv_in = None if Ev is None else {"x": Ev, "offset": self._scale_offset(self.rf_.offset(Ev[:, fp]))}
        else:
            self.rf_ = None
            Xt_in, Xv_in = Et, Ev

        callbacks = []
        train_split = None
        if Ev is not None and len(Ev):
            train_split = predefined_split(Dataset(Xv_in, Yv_s))
            monitor, lower = self._monitor(Yv)
            if monitor != "valid_loss":
                callbacks.append(("valid_metric", EpochScoring(self._epoch_metric, lower_is_better=lower,
                                                               name=monitor, use_caching=True)))
            if self.patience is not None:
                callbacks.append(("early_stopping", EarlyStopping(monitor=monitor, patience=self.patience,
                                                                  lower_is_better=lower, load_best=True)))
        self.monitor_ = None if train_split is None else monitor

        device = resolve_device(self.device)
        if not reuse:
            self.net_ = self._new_net(E.shape[1], Y.shape[1], seed, device, train_split)
        else:  # warm start: the existing weights, fresh generators for this fit's batches and dropout
            self.net_.generators_ = self._generators(seed, device)
            # (attribute, not set_params: skorch 1.4's set_params refuses iterator params on an
            # initialized net; get_iterator reads the attribute)
            self.net_.iterator_train__generator = self.net_.generators_["shuffle"]
            set_dropout_generator(self.net_.module_, self.net_.generators_["dropout"])
        resume = None
        if self.checkpoint_dir is not None and not reuse:
            resume = ResumeCheckpoint(path, seed=seed, generators=self.net_.generators_)
            callbacks.append(("resume", resume))  # last: it saves what the other callbacks updated
        self.net_.set_params(train_split=train_split, callbacks=callbacks, max_epochs=self.max_epochs)
        self.net_.initialize_callbacks()
        try:
            if saved is not None:
                done = resume.restore(self.net_, saved)
                self.net_.partial_fit(Xt_in, Yt_s, epochs=max(0, self.max_epochs - done))
            else:
                self.net_.partial_fit(Xt_in, Yt_s)
        except KeyboardInterrupt as err:
            err.checkpoint_path = None if resume is None else resume.path
            raise
        if resume is not None:
            resume.path.unlink(missing_ok=True)  # a completed fit leaves no checkpoint behind
            resume.generators = None
        # A fitted head carries no random state: it pickles small and loads without the
        # device its (possibly CUDA) dropout generator lived on.
        set_dropout_generator(self.net_.module_, None)
        self.net_.iterator_train__generator = None
        del self.net_.generators_
        self.net_.module_.eval()
        self.n_tasks_ = Y.shape[1]
        self.n_epochs_ = len(self.net_.history)
        return self

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
        """Head output (logits / scaled values) per row; NaN rows for invalid molecules."""
        check_is_fitted(self, "net_")
        E, valid = self._embed_input(X, fitting=False)
        out = np.full((len(E), self.n_tasks_), np.nan, dtype=np.float32)
        if valid.any():
            Ev = E[valid]
            inputs: Any = Ev
            if self.rf_ is not None:
                inputs = {"x": Ev, "offset": self._scale_offset(self.rf_.offset(Ev[:, self._fp_columns()]))}
            out[valid] = self.net_.forward(inputs, training=False).detach().cpu().numpy()
        return out

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
