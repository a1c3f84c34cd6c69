"""Stateless molecule featurizers, one per molecular modality (1D, 2D, 3D)."""

from .conformers import ConformerFeaturizer
from .fingerprints import FingerprintFeaturizer
from .graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, GraphBatch, GraphFeaturizer, MolGraph

__all__ = [
    "FingerprintFeaturizer",
    "GraphFeaturizer",
    "ConformerFeaturizer",
    "MolGraph",
    "GraphBatch",
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
]
