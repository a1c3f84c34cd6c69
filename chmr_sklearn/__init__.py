"""chmr_sklearn: CHMR molecular representations as scikit-learn estimators.

CHMR (Cell-aware Hierarchical Multi-modal Representations, AAAI 2026) pretrains molecular
encoders (1D fingerprint, 2D graph, 3D conformer) against cell morphology / gene expression
profiles. This package exposes them as scikit-learn estimators:

* :class:`CHMRTransformer`: molecules -> embeddings (+ hierarchical tree codes);
* :class:`CHMRClassifier` / :class:`CHMRRegressor`: frozen encoder + a trained head.

Sub-packages follow the method: ``featurize`` -> ``profiles`` -> ``nn`` -> ``pretrain`` ->
``estimators``; ``datasets`` and ``model_selection`` hold the benchmark protocol.
"""

__version__ = "0.1.0"

__all__ = ["CHMRTransformer", "CHMRClassifier", "CHMRRegressor", "__version__"]


def __getattr__(name: str):
    # Lazy (PEP 562): featurizer worker processes import chmr_sklearn.featurize without
    # paying for torch, which the estimators need.
    if name in ("CHMRTransformer", "CHMRClassifier", "CHMRRegressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'chmr_sklearn' has no attribute {name!r}")
