"""CHMR pretraining: corpus construction, the training loop, checkpoints."""

from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import PretrainConfig
from .corpus import BioModality, PretrainCorpus
from .trainer import Pretrainer

__all__ = ["PretrainConfig", "PretrainCorpus", "BioModality", "Pretrainer", "save_checkpoint", "load_checkpoint",
           "build_model"]
