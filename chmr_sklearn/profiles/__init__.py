"""Biological modalities: profile tables, structure-aware propagation, context graph.

* :class:`ProfileTable` — one modality's features keyed by InChIKey; :meth:`ProfileTable.align`
  gives NaN rows and an availability mask for a list of molecules.
* :func:`tanimoto_knn`, :func:`propagation_weights`, :func:`propagate`,
  :func:`augmented_view`, :func:`fill_missing` — modality augmentation (MA).
* :class:`ContextGraph` — heterogeneous context graph and weighted random walks (CPR).
"""

from .context_graph import ContextGraph
from .propagate import (
    FILL_METHODS,
    augmented_view,
    fill_missing,
    propagate,
    propagation_weights,
    tanimoto_knn,
)
from .table import ProfileTable, inchikeys_from_smiles, is_inchikey

__all__ = [
    "ProfileTable",
    "inchikeys_from_smiles",
    "is_inchikey",
    "tanimoto_knn",
    "propagation_weights",
    "propagate",
    "augmented_view",
    "fill_missing",
    "FILL_METHODS",
    "ContextGraph",
]
