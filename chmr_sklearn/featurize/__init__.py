"""Stateless molecule featurizers, one per molecular modality (1D, 2D, 3D), and 2D descriptors for the heads."""

__all__ = [
    "FingerprintFeaturizer",
    "DescriptorFeaturizer",
    "GraphFeaturizer",
    "ConformerFeaturizer",
    "MolGraph",
    "GraphBatch",
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
]

_HOMES = {"FingerprintFeaturizer": "fingerprints", "DescriptorFeaturizer": "descriptors", "GraphFeaturizer": "graphs",
          "ConformerFeaturizer": "conformers",
          "MolGraph": "_molgraph", "GraphBatch": "_molgraph", "ATOM_FEATURE_DIMS": "_molgraph",
          "BOND_FEATURE_DIMS": "_molgraph"}


def __getattr__(name: str):
    # Lazy (PEP 562): worker processes import this package's scikit-learn-free modules
    # (featurize.molecular and what it uses) without paying for scikit-learn and SciPy.
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

