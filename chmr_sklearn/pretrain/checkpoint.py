"""Checkpoints: plain tensors + JSON strings in one file, read with ``torch.load(weights_only=True)``.

A checkpoint never holds pickled Python objects, so loading one cannot run foreign code, and a
model trained on a GPU loads on a CPU (tensors are saved from the CPU).
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..featurize.molecular import ConformerScaler
from ..nn import CHMRModel
from ..nn._random import init_parameters
from .config import PretrainConfig

__all__ = ["FORMAT", "VERSION", "Checkpoint", "atomic_write", "build_model", "encoder_spec", "load_checkpoint",
           "read_payload", "save_checkpoint"]

FORMAT = "chmr_sklearn.checkpoint"
VERSION = 1


class Checkpoint(dict):
    """A loaded checkpoint: ``config``, ``spec``, ``meta`` (dicts), ``model`` (state dict),
    ``scaler`` (ConformerScaler) and optionally ``train`` (optimizer/scheduler/epoch)."""

    @property
    def config(self) -> PretrainConfig:
        return PretrainConfig.from_dict(self["config"])


def encoder_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``spec`` of the encoder alone: without the modules only pretraining uses.

    CPR decoders become ``recon_dims=None``; the profile predictors' ``predict_dims`` key is left
    out, not set to None, so the spec of a run without them equals that of encoders exported
    before the option existed.

    Examples
    --------
    >>> encoder_spec({"latent_dim": 8, "recon_dims": {"molecule": 6}, "predict_dims": {"expression": 5}})
    {'latent_dim': 8, 'recon_dims': None}
    """
    return {k: v for k, v in dict(spec, recon_dims=None).items() if k != "predict_dims"}


def build_model(spec: dict[str, Any], *, generator: torch.Generator | None = None) -> CHMRModel:
    """Rebuild the (untrained) module described by a checkpoint's ``spec``.

    Parameters
    ----------
    spec : dict
        Dimensions and architecture switches (``fp_dim``, ``conf_dim``, ``bio_dims``,
        ``latent_dim``, ``gin``, ``tree``, ``tree_depth``, ``eta``, ``recon_dims``, ``predict_dims``).
    generator : torch.Generator, optional
        Draw the initial weights from this (CPU) generator: the module is built on the
        ``meta`` device and initialised by :func:`~chmr_sklearn.nn._random.init_parameters`,
        so torch's global generator is neither read nor advanced (safe in threads). Without
        it, PyTorch's usual initialisation draws from the global generator.

    Returns
    -------
    CHMRModel

    Examples
    --------
    >>> from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
    >>> ckpt = load_checkpoint(DEFAULT_MODEL)
    >>> model = build_model(encoder_spec(ckpt["spec"]))  # encoder only, no decoders
    >>> model.load_state_dict(ckpt["model"], strict=False).missing_keys
    []
    """
    def make() -> CHMRModel:
        return CHMRModel(
            fp_dim=spec["fp_dim"], conf_dim=spec["conf_dim"], bio_dims=spec.get("bio_dims") or {},
            latent_dim=spec["latent_dim"], gin=spec.get("gin"), tree=spec.get("tree"),
            tree_depth=spec.get("tree_depth", 6), eta=spec.get("eta", 1.0), recon_dims=spec.get("recon_dims"),
            predict_dims=spec.get("predict_dims"),
        )

    if generator is None:
        return make()
    with torch.device("meta"):  # shapes only: no random draws from the global generator
        model = make()
    return init_parameters(model.to_empty(device="cpu"), generator)


def save_checkpoint(
    path: str | os.PathLike,
    *,
    config: PretrainConfig,
    spec: dict[str, Any],
    model_state: dict[str, torch.Tensor],
    scaler: ConformerScaler,
    meta: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint atomically (a temporary file renamed into place).

    Parameters
    ----------
    path : str or path-like
        Destination file (``.pt``).
    config : PretrainConfig
        Settings the model was pretrained with.
    spec : dict
        What :func:`build_model` needs to rebuild the module.
    model_state : dict of str to Tensor
        The module's ``state_dict`` (moved to the CPU when saved).
    scaler : ConformerScaler
        Standardization of the 3D descriptors.
    meta : dict, optional
        JSON-serialisable extras (loss history, data provenance).
    train : dict, optional
        Optimizer / scheduler state and epoch, for resuming.
    half : bool, default=False
        Store floating weights as float16 (the shipped model; loaded back as float32). A tensor
        with a value beyond float16's range (e.g. a BatchNorm running variance) stays float32.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    Copy the shipped model's encoder into a new file and read it back:

    >>> import tempfile
    >>> from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
    >>> ckpt = load_checkpoint(DEFAULT_MODEL)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_checkpoint(Path(tmp, "copy.pt"), config=ckpt.config, spec=ckpt["spec"],
    ...                            model_state=ckpt["model"], scaler=ckpt["scaler"], half=True)
    ...     load_checkpoint(path).config == ckpt.config
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def _cpu(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().cpu()
        return t.half() if half and _fits_half(t) else t.clone()

    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config.to_dict()),
        "spec": json.dumps(spec),
        "meta": json.dumps(meta or {}),
        "model": {k: _cpu(v) for k, v in model_state.items()},
        "conf_mean": torch.from_numpy(np.asarray(scaler.mean, dtype=np.float32)),
        "conf_std": torch.from_numpy(np.asarray(scaler.std, dtype=np.float32)),
    }
    if train is not None:
        payload["train"] = train
    atomic_write(path, lambda fh: torch.save(payload, fh))
    return path


def _fits_half(t: torch.Tensor) -> bool:
    """Whether float16 holds ``t``'s finite values without overflow.

    BatchNorm running variances of the virtual-node MLPs reach ~1e6 (sums over atoms), beyond
    float16's 65504: cast, they became inf and BatchNorm's output a constant.
    """
    if not t.is_floating_point():
        return False
    finite = t[torch.isfinite(t)]
    return finite.numel() == 0 or float(finite.abs().max()) <= torch.finfo(torch.float16).max


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Write a file all at once or not at all: ``write(fh)`` fills a temporary file, renamed into place.

    The temporary file is unique (concurrent writers never share it), flushed to disk before
    the rename, and removed when ``write`` fails or is interrupted (``KeyboardInterrupt``
    included), so ``path`` always holds either its previous content or the complete new one.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = atomic_write(Path(tmp, "a.txt"), lambda fh: fh.write(b"done"))
    ...     out.read_bytes(), sorted(p.name for p in Path(tmp).iterdir())
    (b'done', ['a.txt'])
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_payload(path: str | os.PathLike, *, fmt: str = FORMAT, version: int = VERSION,
                 what: str = "chmr_sklearn checkpoint") -> dict[str, Any]:
    """Load a checkpoint file's raw dict safely and check its format tag and version.

    ``torch.load(weights_only=True)`` only rebuilds tensors and plain containers, so a file
    carrying pickled objects (code) is refused instead of executed.

    Parameters
    ----------
    path : str or Path
    fmt : str
        Expected ``"format"`` entry.
    version : int
        The one ``"version"`` entry this code reads.
    what : str
        How error messages name the expected kind of file.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        Truncated/corrupt file, a file holding pickled objects, a foreign file, or another
        format version; the message names the file.

    Examples
    --------
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     torch.save({"format": "demo", "version": 2, "x": torch.ones(1)}, f"{tmp}/a.pt")
    ...     read_payload(f"{tmp}/a.pt", fmt="demo", version=2)["x"]
    tensor([1.])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise ValueError(f"{path} is not a readable {what} (truncated or corrupt?): {err}") from err
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        raise ValueError(f"{path} is not a {what}.")
    if raw.get("version") != version:
        raise ValueError(f"{path} has checkpoint format version {raw.get('version')}; this chmr_sklearn reads "
                         f"version {version} only. Re-create it or use the matching chmr_sklearn release.")
    return raw


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (CPU tensors, float32 weights).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is truncated/corrupt, not a chmr_sklearn checkpoint, or from an
        incompatible version (see :func:`read_payload`).

    Examples
    --------
    >>> from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
    >>> ckpt = load_checkpoint(DEFAULT_MODEL)
    >>> sorted(ckpt)
    ['config', 'meta', 'model', 'scaler', 'spec']
    >>> ckpt.config.latent_dim, ckpt.config.tree_depth
    (300, 6)
    """
    raw = read_payload(path)
    ckpt = Checkpoint(
        config=json.loads(raw["config"]),
        spec=json.loads(raw["spec"]),
        meta=json.loads(raw["meta"]),
        model={k: (v.float() if v.is_floating_point() else v) for k, v in raw["model"].items()},
        scaler=ConformerScaler(raw["conf_mean"].numpy(), raw["conf_std"].numpy()),
    )
    if "train" in raw:
        ckpt["train"] = raw["train"]
    _warn_non_finite(ckpt["model"], path)
    return ckpt


def _warn_non_finite(state: dict[str, torch.Tensor], path) -> None:
    """Warn about weights or BatchNorm statistics that are inf or NaN (they silence whole channels)."""
    bad = {k: int((~torch.isfinite(v)).sum()) for k, v in state.items()
           if v.is_floating_point() and not torch.isfinite(v).all()}
    if bad:
        listed = ", ".join(f"{k} ({n})" for k, n in bad.items())
        warnings.warn(f"{path} holds non-finite values in {listed}: those channels output constants. "
                      "Exports written before chmr_sklearn stored large BatchNorm statistics in float32 "
                      "overflowed float16; rewrite it from the run's last.pt with scripts/reexport_encoder.py "
                      "or pretrain again.", UserWarning, stacklevel=3)
