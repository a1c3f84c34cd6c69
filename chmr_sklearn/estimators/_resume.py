"""Resumable head training: a skorch callback that checkpoints every epoch and restores it.

A checkpoint holds everything the next epoch depends on: the head's weights, the optimizer
state, the skorch history, the early-stopping state (misses, threshold, best epoch and best
weights), the seed the fit drew and the states of the fit's own random generators (batch
shuffling and dropout; the heads never use torch's global generator). So a ``fit``
interrupted after k epochs and run again continues from epoch k exactly as the uninterrupted
fit would have (bit-identical on CPU). Files are written atomically (a temporary file renamed
into place, removed again if the write itself is interrupted) and hold tensors and plain
values only; they are read with ``torch.load(weights_only=True)`` (no pickled code).
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

__all__ = ["FORMAT", "VERSION", "ResumeCheckpoint", "fingerprint", "read_checkpoint"]

FORMAT = "chmr_sklearn.head_checkpoint"
VERSION = 2  # 2: local generator states and the seed instead of torch's global state


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


def _set_generator_states(generators: dict[str, torch.Generator], states: dict[str, torch.Tensor]) -> None:
    """Restore saved generator states (a function of its own so tests can disable it)."""
    for name, gen in generators.items():
        gen.set_state(states[name])


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The payload of a head checkpoint; ValueError naming the file if it is not a valid one.

    Examples
    --------
    >>> read_checkpoint("no/such/head.pt")
    Traceback (most recent call last):
    ...
    ValueError: no/such/head.pt does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist.")
    return read_payload(path, fmt=FORMAT, version=VERSION, what="chmr_sklearn head checkpoint")


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


class ResumeCheckpoint(Callback):
    """Write ``path`` after every epoch; :meth:`restore` a net from it before training resumes.

    Parameters
    ----------
    path : str or Path
        The checkpoint file (its directory is created when needed).
    seed : int, default=0
        The seed the fit drew; saved so that a fit with ``random_state=None`` resumes with it.
    generators : dict of str to torch.Generator, optional
        The fit's own random generators (batch order, dropout): their states are saved and
        restored.

    Examples
    --------
    >>> cb = ResumeCheckpoint("runs/head.pt", seed=3).initialize()
    >>> cb.path.name, cb.seed
    ('head.pt', 3)
    """

    def __init__(self, path: str | os.PathLike, seed: int = 0, generators: dict[str, torch.Generator] | None = None):
        self.path = Path(path)
        self.seed = seed
        self.generators = generators

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
            "seed": int(self.seed),
            "rng": {name: gen.get_state() for name, gen in (self.generators or {}).items()},
        }
        if es is not None:
            payload["early_stopping"] = {
                "misses": int(es.misses_), "threshold": float(es.dynamic_threshold_), "best_epoch": int(es.best_epoch_),
                "best_weights": None if es.best_model_weights_ is None else _cpu_state(es.best_model_weights_),
            }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            torch.save(payload, tmp)
            os.replace(tmp, self.path)
        except BaseException:
            # Ctrl-C (or a full disk) during the write: the previous checkpoint stays whole and
            # no half-written file is left behind.
            tmp.unlink(missing_ok=True)
            raise

    def restore(self, net, raw: dict[str, Any] | None = None) -> int:
        """Load the checkpoint (or its already read payload ``raw``) into an initialized ``net``.

        Returns the number of epochs done. The early-stopping and random states are applied
        in ``on_train_begin`` (after skorch has reset the callbacks for the resumed training).
        """
        if raw is None:
            raw = read_checkpoint(self.path)
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
        if self.generators:
            _set_generator_states(self.generators, raw["rng"])
