"""CHMR pretraining: corpus construction, the training loop, checkpoints."""

from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import RECIPES, PretrainConfig
from .corpus import BioModality, PretrainCorpus
from .trainer import Pretrainer

__all__ = ["RECIPES", "BioModality", "PretrainConfig", "PretrainCorpus", "Pretrainer", "build_model", "load_checkpoint",
           "save_checkpoint"]
