"""2D modality: molecular graphs with OGB atom (9 ints) and bond (3 ints) features.

:class:`GraphFeaturizer` is the scikit-learn transformer; the graphs themselves
(:class:`MolGraph`, :class:`GraphBatch`, :func:`mol_to_graph`, the OGB vocabularies) live in
:mod:`._molgraph`, which worker processes import without scikit-learn, and are re-exported here.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .._inputs import to_mol
from ._base import MoleculeFeaturizer
from ._molgraph import (
    ALLOWABLE_ATOM_FEATURES,
    ALLOWABLE_BOND_FEATURES,
    ATOM_FEATURE_DIMS,
    BOND_FEATURE_DIMS,
    GraphBatch,
    MolGraph,
    _atom_features,
    _bond_features,
    _both_directions,
    collate_graphs,
    mol_to_graph,
)

__all__ = [
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
    "ALLOWABLE_ATOM_FEATURES",
    "ALLOWABLE_BOND_FEATURES",
    "GraphBatch",
    "GraphFeaturizer",
    "MolGraph",
    "collate_graphs",
    "mol_to_graph",
]


class _PackedGraphs(NamedTuple):
    """A chunk's graphs as four flat arrays: what a worker sends back (small, few objects)."""

    x: np.ndarray  # (sum atoms, 9) uint8: every atom vocabulary is < 256
    bonds: np.ndarray  # (sum bonds, 5) int32: begin, end, type, stereo, conjugated
    n_atoms: np.ndarray  # (n,) int64, 0 for invalid rows
    n_bonds: np.ndarray  # (n,) int64


class GraphFeaturizer(MoleculeFeaturizer):
    """Molecular graphs with OGB atom and bond features (CHMR's 2D modality).

    Each molecule becomes a :class:`MolGraph` of int64 arrays: ``x`` (atoms x 9 OGB atom
    features), ``edge_index`` (both directions of every bond) and ``edge_attr`` (3 OGB bond
    features), exactly as OGB's ``smiles2graph`` (hydrogens stay implicit). Batch graphs for a
    GNN with :meth:`collate`.

    Parameters
    ----------
    smiles_col : str or int, default="smiles"
        Column holding the molecules when ``X`` is a DataFrame (name) or 2-D array (position).
    on_invalid : {"raise", "nan"}, default="raise"
        ``"raise"``: one ``ValueError`` listing every invalid row. ``"nan"``: the row's cell
        is ``None`` (an empty graph in :meth:`collate`).
    n_jobs : int, default=None
        Worker processes; molecules are parsed inside the workers, which send back flat
        numpy arrays. ``-1`` uses every core.
    verbose : int, default=0
        Show a progress bar.

    Attributes
    ----------
    n_features_in_ : int
        Columns of the input seen in ``fit`` (1 for a list of SMILES).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame.

    See Also
    --------
    ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS : vocabulary sizes of the features.

    Examples
    --------
    >>> from chmr_sklearn.featurize import GraphFeaturizer
    >>> graphs = GraphFeaturizer().fit_transform(["CCO", "c1ccccc1"])
    >>> graphs.shape, graphs[1, 0].x.shape, graphs[1, 0].edge_index.shape
    ((2, 1), (6, 9), (2, 12))
    >>> batch = GraphFeaturizer.collate(graphs)
    >>> batch.num_graphs, batch.batch.tolist()
    (2, [0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> GraphFeaturizer(on_invalid="nan").fit_transform(["CCO", "xyz"])[1, 0] is None
    True
    """

    def __init__(self, *, smiles_col="smiles", on_invalid="raise", n_jobs=None, verbose=0):
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _featurize_chunk(self, entries):
        atoms: list[tuple[int, ...]] = []
        bonds: list[tuple[int, ...]] = []
        n_atoms = np.zeros(len(entries), dtype=np.int64)
        n_bonds = np.zeros(len(entries), dtype=np.int64)
        valid = np.zeros(len(entries), dtype=bool)
        for i, entry in enumerate(entries):
            mol = to_mol(entry)
            if mol is None:
                continue
            valid[i] = True
            atoms.extend(map(_atom_features, mol.GetAtoms()))
            bonds.extend(map(_bond_features, mol.GetBonds()))
            n_atoms[i] = mol.GetNumAtoms()
            n_bonds[i] = mol.GetNumBonds()
        packed = _PackedGraphs(
            np.array(atoms, dtype=np.uint8).reshape(-1, 9),
            np.array(bonds, dtype=np.int32).reshape(-1, 5),
            n_atoms,
            n_bonds,
        )
        return packed, valid

    def _assemble(self, parts: Sequence[_PackedGraphs], valid: np.ndarray) -> np.ndarray:
        x = np.concatenate([p.x for p in parts]).astype(np.int64)
        bonds = np.concatenate([p.bonds for p in parts])
        n_atoms = np.concatenate([p.n_atoms for p in parts])
        n_bonds = np.concatenate([p.n_bonds for p in parts])
        atom_stop = np.cumsum(n_atoms)
        bond_stop = np.cumsum(n_bonds)
        out = np.empty((len(valid), 1), dtype=object)  # None for invalid rows
        for i in np.flatnonzero(valid):
            a1, b1 = atom_stop[i], bond_stop[i]
            edge_index, edge_attr = _both_directions(bonds[b1 - n_bonds[i]: b1])
            out[i, 0] = MolGraph(x[a1 - n_atoms[i]: a1], edge_index, edge_attr)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The single output column, ``["graph"]``."""
        return np.asarray(["graph"], dtype=object)

    @staticmethod
    def collate(graphs: Sequence[MolGraph | None] | np.ndarray) -> GraphBatch:
        """:func:`~chmr_sklearn.featurize.graphs.collate_graphs`, for the output of :meth:`transform`.

        Takes the ``(n, 1)`` array (or the one-column DataFrame of ``set_output(transform="pandas")``)
        or any sequence of :class:`MolGraph` / ``None``; ``None`` (an invalid molecule) adds no
        node but still counts as a graph.

        Examples
        --------
        >>> gs = GraphFeaturizer(on_invalid="nan").fit_transform(["CC", "?", "O"])
        >>> b = GraphFeaturizer.collate(gs)
        >>> b.num_graphs, b.batch.tolist(), b.edge_index.tolist()
        (3, [0, 0, 2], [[0, 1], [1, 0]])
        """
        return collate_graphs(graphs)
