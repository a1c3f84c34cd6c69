"""Resumable head training: a skorch callback that checkpoints every epoch and restores it.

A checkpoint holds everything the next epoch depends on: the head's weights, the optimizer
state, the skorch history, the early-stopping state (misses, threshold, best epoch and best
weights) and the torch random state (batch shuffling and dropout). So a ``fit`` interrupted
after k epochs and run again continues from epoch k exactly as the uninterrupted fit would
have (bit-identical on CPU). Files are written atomically and hold tensors and plain values
only; they are read with ``torch.load(weights_only=True)`` (no pickled code).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping
from skorch.history import History

from ..pretrain.checkpoint import read_payload

__all__ = ["FORMAT", "VERSION", "ResumeCheckpoint", "fingerprint"]

FORMAT = "chmr_sklearn.head_checkpoint"
VERSION = 1


def fingerprint(settings: dict[str, Any], *arrays: Any) -> str:
    """Short hash of the training settings and data: one checkpoint file per distinct fit.

    Grid searches and cross-validation can share a ``checkpoint_dir``: each fold and
    parameter combination gets its own file, and a re-run finds exactly its own.

    Examples
    --------
    >>> import numpy as np
    >>> a = fingerprint({"lr": 0.1}, np.zeros(3))
    >>> a == fingerprint({"lr": 0.1}, np.zeros(3)) != fingerprint({"lr": 0.2}, np.zeros(3))
    True
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=repr).encode())
    for arr in arrays:
        if isinstance(arr, dict):
            for key in sorted(arr):
                digest.update(key.encode())
                digest.update(np.ascontiguousarray(arr[key]).tobytes())
        elif arr is not None:
            digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:20]


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


class ResumeCheckpoint(Callback):
    """Write ``path`` after every epoch; :meth:`restore` a net from it before training resumes.

    Parameters
    ----------
    path : str or Path
        The checkpoint file (its directory is created when needed).

    Examples
    --------
    >>> cb = ResumeCheckpoint("runs/head.pt").initialize()
    >>> cb.path.name
    'head.pt'
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def initialize(self) -> ResumeCheckpoint:
        self.pending_: dict[str, Any] | None = None
        return self

    @staticmethod
    def _early_stopping(net) -> EarlyStopping | None:
        return next((cb for _, cb in net.callbacks_ if isinstance(cb, EarlyStopping)), None)

    def on_epoch_end(self, net, **kwargs) -> None:
        # Runs after the scoring and early-stopping callbacks (it is registered last).
        es = self._early_stopping(net)
        payload: dict[str, Any] = {
            "format": FORMAT, "version": VERSION,
            "module": _cpu_state(net.module_.state_dict()),
            "optimizer": net.optimizer_.state_dict(),
            "history": json.dumps(list(net.history), default=float),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            payload["cuda_rng"] = torch.cuda.get_rng_state_all()
        if es is not None:
            payload["early_stopping"] = {
                "misses": int(es.misses_), "threshold": float(es.dynamic_threshold_), "best_epoch": int(es.best_epoch_),
                "best_weights": None if es.best_model_weights_ is None else _cpu_state(es.best_model_weights_),
            }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.path)

    def restore(self, net) -> int:
        """Load the checkpoint into an initialized ``net``; returns the number of epochs done.

        The early-stopping and random states are applied in ``on_train_begin`` (after skorch
        has reset the callbacks for the resumed training).
        """
        raw = read_payload(self.path, fmt=FORMAT, version=VERSION, what="chmr_sklearn head checkpoint")
        try:
            net.module_.load_state_dict(raw["module"])
            net.optimizer_.load_state_dict(raw["optimizer"])
            net.history_ = History(json.loads(raw["history"]))
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise ValueError(f"{self.path} does not fit this head (other settings or a damaged file): {err}") from err
        self.pending_ = raw
        return len(net.history)

    def on_train_begin(self, net, **kwargs) -> None:
        raw, self.pending_ = self.pending_, None
        if raw is None:
            return
        es = self._early_stopping(net)
        if es is not None and "early_stopping" in raw:
            state = raw["early_stopping"]
            es.misses_, es.dynamic_threshold_, es.best_epoch_ = state["misses"], state["threshold"], state["best_epoch"]
            es.best_model_weights_ = state["best_weights"]
        torch.set_rng_state(raw["torch_rng"])
        if "cuda_rng" in raw and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(raw["cuda_rng"])

    def finished(self, net, max_epochs: int) -> bool:
        """Whether training ended normally (all epochs, or early stopping) rather than by Ctrl-C."""
        es = self._early_stopping(net)
        return len(net.history) >= max_epochs or (es is not None and es.misses_ >= es.patience)
