"""The 2D modality's graph of one molecule, and batches of them: RDKit + numpy only (worker-side code).

The features follow OGB's ``ogb.utils.features`` (``atom_to_feature_vector`` /
``bond_to_feature_vector``): every feature is the index of the RDKit value in an *allowable
list*, values outside the list map to the list's last entry (``'misc'``). The vocabulary sizes
are :data:`ATOM_FEATURE_DIMS` and :data:`BOND_FEATURE_DIMS`, shared with the GNN embedding
tables of :mod:`chmr_sklearn.nn.gin`.

Graphs are stored as :class:`MolGraph` (one per molecule, numpy only) and batched for a GNN
with :func:`collate_graphs` into a :class:`GraphBatch` (PyG-style disjoint union).
:class:`~chmr_sklearn.featurize.GraphFeaturizer` (the scikit-learn transformer) and
:func:`~chmr_sklearn.featurize.molecular.featurize_molecular` both build on this module; it
imports no scikit-learn, so worker processes start faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
from rdkit import Chem


__all__ = [
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_DIMS",
    "ALLOWABLE_ATOM_FEATURES",
    "ALLOWABLE_BOND_FEATURES",
    "GraphBatch",
    "MolGraph",
    "collate_graphs",
    "mol_to_graph",
]

# ---- OGB allowable lists (ogb/utils/features.py); the last entry is the fallback ----------
ALLOWABLE_ATOM_FEATURES: dict[str, list] = {
    "atomic_num": list(range(1, 119)) + ["misc"],
    "chirality": ["CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER", "misc"],
    "degree": list(range(11)) + ["misc"],
    "formal_charge": list(range(-5, 6)) + ["misc"],
    "num_hs": list(range(9)) + ["misc"],
    "num_radical_electrons": list(range(5)) + ["misc"],
    "hybridization": ["SP", "SP2", "SP3", "SP3D", "SP3D2", "misc"],
    "is_aromatic": [False, True],
    "is_in_ring": [False, True],
}
# OGB's stereo list has no 'misc' and raises on values added to RDKit later (STEREOATROPCW/CCW);
# like OGB's safe_index we fall back to the last entry, STEREOANY.
ALLOWABLE_BOND_FEATURES: dict[str, list] = {
    "bond_type": ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC", "misc"],
    "bond_stereo": ["STEREONONE", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS", "STEREOANY"],
    "is_conjugated": [False, True],
}

#: Vocabulary size of each of the 9 atom features (OGB ``get_atom_feature_dims()``).
ATOM_FEATURE_DIMS: tuple[int, ...] = (119, 5, 12, 12, 10, 6, 6, 2, 2)
#: Vocabulary size of each of the 3 bond features (OGB ``get_bond_feature_dims()``).
BOND_FEATURE_DIMS: tuple[int, ...] = (5, 6, 2)
assert tuple(map(len, ALLOWABLE_ATOM_FEATURES.values())) == ATOM_FEATURE_DIMS
assert tuple(map(len, ALLOWABLE_BOND_FEATURES.values())) == BOND_FEATURE_DIMS


def _enum_lookup(enum: Any, allowed: list) -> dict:
    """Map every value of an RDKit enum to its index in ``allowed`` (last index when absent).

    Keyed by enum value, so the hot loop avoids OGB's ``str(enum)`` + ``list.index`` per atom.
    """
    fallback = len(allowed) - 1
    return {
        value: (allowed.index(name) if name in allowed else fallback)
        for name, value in enum.names.items()
    }


_CHIRALITY = _enum_lookup(Chem.ChiralType, ALLOWABLE_ATOM_FEATURES["chirality"])
_HYBRIDIZATION = _enum_lookup(Chem.HybridizationType, ALLOWABLE_ATOM_FEATURES["hybridization"])
_BOND_TYPE = _enum_lookup(Chem.BondType, ALLOWABLE_BOND_FEATURES["bond_type"])
_BOND_STEREO = _enum_lookup(Chem.BondStereo, ALLOWABLE_BOND_FEATURES["bond_stereo"])


class MolGraph(NamedTuple):
    """One molecule as a graph (numpy only, int64).

    Attributes
    ----------
    x : ndarray of shape (n_atoms, 9)
        OGB atom features (indices into :data:`ALLOWABLE_ATOM_FEATURES`).
    edge_index : ndarray of shape (2, 2 * n_bonds)
        Source / target atom of each directed edge; every bond appears in both directions,
        bond ``k`` as columns ``2k`` (begin -> end) and ``2k + 1`` (end -> begin), as in OGB.
    edge_attr : ndarray of shape (2 * n_bonds, 3)
        OGB bond features of each directed edge.

    Examples
    --------
    >>> from rdkit import Chem
    >>> g = mol_to_graph(Chem.MolFromSmiles("CCO"))
    >>> g.num_nodes, g.x.shape, g.edge_attr.shape
    (3, (3, 9), (4, 3))
    >>> g.edge_index.tolist()  # bond k as columns 2k (begin -> end) and 2k + 1 (end -> begin)
    [[0, 1, 1, 2], [1, 0, 2, 1]]
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray

    @property
    def num_nodes(self) -> int:
        """Number of atoms."""
        return int(self.x.shape[0])


def _atom_features(atom: Chem.Atom) -> tuple[int, ...]:
    z = atom.GetAtomicNum()
    degree = atom.GetTotalDegree()
    charge = atom.GetFormalCharge()
    num_hs = atom.GetTotalNumHs()
    radicals = atom.GetNumRadicalElectrons()
    return (
        z - 1 if 1 <= z <= 118 else 118,
        _CHIRALITY.get(atom.GetChiralTag(), 4),
        degree if degree <= 10 else 11,
        charge + 5 if -5 <= charge <= 5 else 11,
        num_hs if num_hs <= 8 else 9,
        radicals if radicals <= 4 else 5,
        _HYBRIDIZATION.get(atom.GetHybridization(), 5),
        int(atom.GetIsAromatic()),
        int(atom.IsInRing()),
    )


def _bond_features(bond: Chem.Bond) -> tuple[int, ...]:
    # (begin, end, type, stereo, conjugated): endpoints travel with the features.
    return (
        bond.GetBeginAtomIdx(),
        bond.GetEndAtomIdx(),
        _BOND_TYPE.get(bond.GetBondType(), 4),
        _BOND_STEREO.get(bond.GetStereo(), 5),
        int(bond.GetIsConjugated()),
    )


def _both_directions(bonds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_bonds, 5) [begin, end, features...] -> edge_index (2, 2B), edge_attr (2B, 3), int64."""
    n = len(bonds)
    edge_index = np.empty((2, 2 * n), dtype=np.int64)
    edge_index[0, 0::2] = edge_index[1, 1::2] = bonds[:, 0]
    edge_index[1, 0::2] = edge_index[0, 1::2] = bonds[:, 1]
    edge_attr = np.repeat(bonds[:, 2:].astype(np.int64), 2, axis=0)
    return edge_index, edge_attr


def mol_to_graph(mol: Chem.Mol) -> MolGraph:
    """OGB graph of one RDKit molecule (the molecule as given: no hydrogens are added).

    Parameters
    ----------
    mol : rdkit.Chem.Mol

    Returns
    -------
    MolGraph

    Examples
    --------
    >>> from rdkit import Chem
    >>> g = mol_to_graph(Chem.MolFromSmiles("CO"))
    >>> g.x.tolist()
    [[5, 0, 4, 5, 3, 0, 2, 0, 0], [7, 0, 2, 5, 1, 0, 2, 0, 0]]
    >>> g.edge_index.tolist(), g.edge_attr.tolist()
    ([[0, 1], [1, 0]], [[0, 0, 0], [0, 0, 0]])
    """
    # Index access: RDKit's GetAtoms()/GetBonds() iterators are Python wrappers costing ~25 %
    # of this function (measured on WEHI molecules).
    x = np.array([_atom_features(mol.GetAtomWithIdx(i)) for i in range(mol.GetNumAtoms())],
                 dtype=np.int64).reshape(-1, 9)
    bonds = np.array([_bond_features(mol.GetBondWithIdx(i)) for i in range(mol.GetNumBonds())],
                     dtype=np.int64).reshape(-1, 5)
    return MolGraph(x, *_both_directions(bonds))


@dataclass
class GraphBatch:
    """Disjoint union of molecular graphs, ready for a message-passing GNN (all int64).

    Attributes
    ----------
    x : ndarray of shape (n_nodes, 9)
        Atom features of every graph, stacked.
    edge_index : ndarray of shape (2, n_edges)
        Edges with node indices offset into ``x``.
    edge_attr : ndarray of shape (n_edges, 3)
        Bond features.
    batch : ndarray of shape (n_nodes,)
        Graph id (row of the input) of every node.
    num_graphs : int
        Number of graphs, including empty ones (``None`` entries), so that pooling by
        ``batch`` into ``num_graphs`` rows keeps one row per input molecule.

    Examples
    --------
    >>> from rdkit import Chem
    >>> batch = collate_graphs([mol_to_graph(Chem.MolFromSmiles(s)) for s in ["CCO", "C"]])
    >>> batch.num_graphs, batch.num_nodes, batch.batch.tolist()
    (2, 4, [0, 0, 0, 1])
    >>> sorted(batch.to_torch())
    ['batch', 'edge_attr', 'edge_index', 'num_graphs', 'x']
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    batch: np.ndarray
    num_graphs: int

    @property
    def num_nodes(self) -> int:
        """Total number of atoms."""
        return int(self.x.shape[0])

    def to_torch(self, device: Any = "cpu") -> dict:
        """The batch as torch tensors on ``device``.

        Parameters
        ----------
        device : str or torch.device, default="cpu"

        Returns
        -------
        dict
            ``x``, ``edge_index``, ``edge_attr``, ``batch``: int64 tensors; ``num_graphs``: int.

        Examples
        --------
        >>> from rdkit import Chem
        >>> b = collate_graphs([mol_to_graph(Chem.MolFromSmiles("CCO"))])
        >>> t = b.to_torch()
        >>> t["x"].dtype, tuple(t["edge_index"].shape), t["num_graphs"]
        (torch.int64, (2, 4), 1)
        """
        import torch  # lazy: featurizing must not require torch

        out = {
            key: torch.from_numpy(np.ascontiguousarray(getattr(self, key))).to(device)
            for key in ("x", "edge_index", "edge_attr", "batch")
        }
        out["num_graphs"] = int(self.num_graphs)
        return out


def collate_graphs(graphs: Sequence[MolGraph | None] | np.ndarray) -> GraphBatch:
    """Stack graphs into one disjoint-union :class:`GraphBatch`.

    Parameters
    ----------
    graphs : sequence of MolGraph or None, or an (n, 1) array / one-column DataFrame of them
        ``None`` (an invalid molecule) adds no node but still counts as a graph.

    Returns
    -------
    GraphBatch

    Examples
    --------
    >>> from rdkit import Chem
    >>> b = collate_graphs([mol_to_graph(Chem.MolFromSmiles("CC")), None, mol_to_graph(Chem.MolFromSmiles("O"))])
    >>> b.num_graphs, b.batch.tolist(), b.edge_index.tolist()
    (3, [0, 0, 2], [[0, 1], [1, 0]])
    """
    if hasattr(graphs, "to_numpy"):  # pandas DataFrame / Series
        graphs = graphs.to_numpy()
    if isinstance(graphs, np.ndarray):
        if graphs.ndim == 2 and graphs.shape[1] == 1:
            graphs = graphs[:, 0]
        elif graphs.ndim != 1:
            raise ValueError(f"Expected a (n, 1) array of graphs, got shape {graphs.shape}.")
    graphs = list(graphs)
    present = [g for g in graphs if g is not None]
    for g in present:
        if not isinstance(g, MolGraph):
            raise TypeError(f"collate expects MolGraph or None entries, got {type(g).__name__}.")
    n_nodes = np.array([0 if g is None else len(g.x) for g in graphs], dtype=np.int64)
    n_edges = np.array([0 if g is None else g.edge_index.shape[1] for g in graphs], dtype=np.int64)
    offsets = np.cumsum(n_nodes) - n_nodes
    if present:
        x = np.concatenate([g.x for g in present]).astype(np.int64, copy=False)
        edge_index = np.concatenate([g.edge_index for g in present], axis=1).astype(np.int64, copy=False)
        edge_attr = np.concatenate([g.edge_attr for g in present]).astype(np.int64, copy=False)
        edge_index = edge_index + np.repeat(offsets, n_edges)
    else:
        x = np.zeros((0, len(ATOM_FEATURE_DIMS)), dtype=np.int64)
        edge_index = np.zeros((2, 0), dtype=np.int64)
        edge_attr = np.zeros((0, len(BOND_FEATURE_DIMS)), dtype=np.int64)
    batch = np.repeat(np.arange(len(graphs), dtype=np.int64), n_nodes)
    return GraphBatch(x, edge_index, edge_attr, batch, len(graphs))
