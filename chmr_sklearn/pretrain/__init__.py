"""CHMR pretraining: corpus construction, the training loop, checkpoints.

The corpus and the trainer are imported on first use: loading a shipped checkpoint (every
``CHMRTransformer().fit``) needs only :mod:`.checkpoint` and :mod:`.config`.
"""

from importlib import import_module
from typing import Any

from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import RECIPES, PretrainConfig

__all__ = ["RECIPES", "BioModality", "PretrainConfig", "PretrainCorpus", "Pretrainer", "build_model", "load_checkpoint",
           "save_checkpoint"]

_LAZY = {"BioModality": ".corpus", "PretrainCorpus": ".corpus", "Pretrainer": ".trainer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
