"""Stateless molecule featurizers, one per molecular modality (1D, 2D, 3D)."""
