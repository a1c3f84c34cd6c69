"""Torch building blocks of CHMR (torch only: no sklearn, RDKit or pandas here).

- :class:`GINVirtualNode`: 2-D encoder, GIN + virtual node in pure torch (``gin.py``).
- :class:`Projector`, :class:`Decoder`, :class:`MLPHead`: small blocks (``blocks.py``).
- :class:`TreeVQ`: tree-structured VQ with parent-constrained routing (``tree_vq.py``).
- :func:`info_nce`, :func:`vicreg`, masked BCE/MSE/L1 losses (``losses.py``).
- :class:`CHMRModel`: all of the above wired together (``chmr.py``).
"""

from .blocks import Decoder, MLPHead, Projector
from .chmr import MOLECULAR_MODALITIES, CHMRModel
from .gin import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, GINVirtualNode, scatter_sum
from .losses import (
    info_nce,
    masked_bce_loss,
    masked_l1_loss,
    masked_mse_loss,
    masked_weighted_bce,
    masked_weighted_mse,
    vicreg,
)
from .tree_vq import TreeVQ, TreeVQOutput

__all__ = [
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
    "CHMRModel",
    "Decoder",
    "GINVirtualNode",
    "MLPHead",
    "MOLECULAR_MODALITIES",
    "Projector",
    "TreeVQ",
    "TreeVQOutput",
    "info_nce",
    "masked_bce_loss",
    "masked_l1_loss",
    "masked_mse_loss",
    "masked_weighted_bce",
    "masked_weighted_mse",
    "scatter_sum",
    "vicreg",
]
