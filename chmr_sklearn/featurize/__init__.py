"""Stateless molecule featurizers, one per molecular modality (1D, 2D, 3D)."""

from .fingerprints import FingerprintFeaturizer

__all__ = ["FingerprintFeaturizer"]
