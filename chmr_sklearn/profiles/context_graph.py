"""Heterogeneous biological context graph and weighted random walks (CPR).

Context-Propagation Reconstruction (CPR) walks from each molecule over a graph that links
molecules to their measured profiles, to similar molecules, and profiles to similar profiles;
the decoders then reconstruct the features of every visited node, weighted by the product of
the edge weights along the walk.

Graph (``reference/chmr_method.md`` §1.6), with our decisions:

* **Nodes**: the molecules ``0 .. n_mol - 1`` first, then one node per observed profile row of
  each modality (in the order of the ``profiles`` dict), then optional entity nodes (e.g.
  genes) from ``extra_edges``. Node types occupy contiguous blocks (``type_offset``).
* **Molecule-profile** edges, weight 1.
* **Molecule-molecule** edges, weight = Tanimoto similarity of the fingerprints, and
  **profile-profile** edges within a modality, weight = cosine similarity of the rows. Each
  kind keeps the pairs whose similarity is at least a threshold ``t = max(min_threshold, q)``
  where ``q`` is chosen so that about ``target_density`` of all ``n (n - 1) / 2`` pairs of that
  kind reach it (exact quantile, not the official bisection on 2-decimal rounded values).
* **Bounded work**: similarities are searched exactly, but only each node's top
  ``max_neighbors`` most similar nodes are candidates (:func:`tanimoto_knn`-style blocked
  search), so memory is O(n * max_neighbors) instead of O(n**2). A pair is kept when it is in
  the candidate list of either end. With the default threshold floor 0.8 a node rarely has more
  than 50 such neighbours; when it does, its weakest similar neighbours are dropped.
* The official code clusters first (Murcko scaffolds for molecules, KMeans on a 2-D PCA for
  profiles) and compares only within clusters; we compare all pairs exactly instead.
* Profile cosine is computed on the raw rows as given (the official code row-standardises first,
  i.e. uses a Pearson correlation); standardise the rows beforehand to get that.

Examples
--------
>>> import numpy as np
>>> fps = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
>>> expr = np.array([[1.0, 0.0], [0.9, 0.1]])            # profiles of molecules 0 and 2
>>> g = ContextGraph.build(fps, {"expression": (expr, np.array([0, 2]))})
>>> g.n_nodes, g.n_edges, g.type_names
(5, 4, ['molecule', 'expression'])
>>> nodes, weights = g.random_walks(np.array([1]), length=2, rng=np.random.default_rng(0))
>>> nodes.shape, weights.shape
((1, 3), (1, 3))
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._topk import blocked_topk
from .propagate import tanimoto_knn

__all__ = ["ContextGraph"]

MOLECULE = "molecule"
ENTITY = "entity"


def _cosine_knn(X: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-k (self excluded) of the rows of ``X``; zero rows have cosine 0."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0).astype(np.float32)
    n = Xn.shape[0]
    block = min(block, n)
    buf = np.empty((block, block), dtype=np.float32)

    def tile(i0, i1, j0, j1):
        out = buf[: i1 - i0, : j1 - j0]
        np.matmul(Xn[i0:i1], Xn[j0:j1].T, out=out)
        np.clip(out, -1.0, 1.0, out=out)
        return out

    return blocked_topk(n, k, tile, block=block)


def _profiled_knn_pairs(fps: np.ndarray, row_mol: np.ndarray, k: int, block: int = 4096):
    """Each molecule without a row to the ``k`` rows whose molecules are most Tanimoto-similar to it.

    Returns (molecule, row, similarity) triples with similarity > 0.
    """
    n = fps.shape[0]
    others = np.setdiff1d(np.arange(n), row_mol)
    if others.size == 0 or row_mol.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    F = np.asarray(fps, dtype=np.float32)
    P = F[row_mol]
    p_bits = P.sum(axis=1)
    k = min(int(k), row_mol.size)
    src, dst, wts = [], [], []
    for i0 in range(0, others.size, block):
        rows = others[i0 : i0 + block]
        inter = F[rows] @ P.T
        sim = inter / np.maximum(F[rows].sum(axis=1)[:, None] + p_bits[None, :] - inter, 1e-9)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        val = np.take_along_axis(sim, top, axis=1)
        keep = val > 0
        src.append(np.repeat(rows, k)[keep.ravel()])
        dst.append(top[keep])
        wts.append(val[keep].astype(np.float32))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(wts)


def _threshold_pairs(idx, sims, target_density, min_threshold):
    """Undirected pairs from kNN lists whose similarity reaches the density threshold."""
    n, k = idx.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = idx.ravel()
    vals = sims.ravel().astype(np.float64)
    ok = cols >= 0
    a, b, vals = np.minimum(rows, cols)[ok], np.maximum(rows, cols)[ok], vals[ok]
    # A pair listed by both ends appears twice: keep one copy.
    _, first = np.unique(a * n + b, return_index=True)
    a, b, vals = a[first], b[first], vals[first]
    n_pairs = n * (n - 1) // 2
    target = max(1, int(round(target_density * n_pairs)))
    if vals.size > target:
        quantile = float(np.sort(vals)[::-1][target - 1])
    else:
        quantile = -np.inf  # fewer candidates than the target: only the floor applies
    threshold = float(max(quantile, min_threshold))
    keep = (vals >= threshold) & (vals > 0)
    return a[keep], b[keep], vals[keep].astype(np.float32), threshold


def _checked_fps(mol_fps, profiles, target_density, min_threshold, max_neighbors, profiled_knn) -> np.ndarray:
    """``ContextGraph.build``'s arguments checked; the fingerprints as an array."""
    fps = np.asarray(mol_fps)
    if fps.ndim != 2 or fps.shape[0] == 0:
        raise ValueError(f"mol_fps must be a non-empty 2-D array, got shape {fps.shape}.")
    if not 0 < target_density <= 1:
        raise ValueError(f"target_density must be in (0, 1], got {target_density!r}.")
    if not 0 <= min_threshold <= 1:
        raise ValueError(f"min_threshold must be in [0, 1], got {min_threshold!r}.")
    if isinstance(max_neighbors, bool) or not isinstance(max_neighbors, (int, np.integer)) or max_neighbors < 1:
        raise ValueError(f"max_neighbors must be a positive integer, got {max_neighbors!r}.")
    if isinstance(profiled_knn, bool) or not isinstance(profiled_knn, (int, np.integer)) or profiled_knn < 0:
        raise ValueError(f"profiled_knn must be a non-negative integer, got {profiled_knn!r}.")
    if not isinstance(profiles, Mapping):
        raise ValueError("profiles must be a dict {name: (rows, mol_index)}.")
    return fps


class _GraphParts:
    """A context graph being built: nodes one type at a time (contiguous ids), undirected edges."""

    def __init__(self, target_density: float, min_threshold: float, max_neighbors: int) -> None:
        self.target_density, self.min_threshold, self.max_neighbors = target_density, min_threshold, max_neighbors
        self.type_names: list[str] = []
        self.first: dict[str, int] = {}  # a type's first node id
        self.size: dict[str, int] = {}
        self.n_nodes = 0
        self._type, self._row, self._molecule = [], [], []
        self._src, self._dst, self._weight = [], [], []

    def add_nodes(self, type_name: str, molecule: np.ndarray) -> int:
        """Nodes of a new type, one per entry of ``molecule`` (-1: none); returns the first one's id."""
        n, first = len(molecule), self.n_nodes
        self._type.append(np.full(n, len(self.type_names), dtype=np.int64))
        self._row.append(np.arange(n, dtype=np.int64))
        self._molecule.append(np.asarray(molecule, dtype=np.int64))
        self.type_names.append(type_name)
        self.first[type_name], self.size[type_name] = first, n
        self.n_nodes += n
        return first

    def add_edges(self, a, b, w) -> None:
        self._src.append(np.asarray(a, dtype=np.int64))
        self._dst.append(np.asarray(b, dtype=np.int64))
        self._weight.append(np.asarray(w, dtype=np.float32))

    def link_similar(self, first: int, X: np.ndarray, knn) -> float:
        """Edges among nodes ``first, first + 1, ..`` (rows of ``X``) that pass the density threshold; returns it."""
        if len(X) < 2:
            return float(self.min_threshold)
        idx, sims = knn(X, k=min(self.max_neighbors, len(X) - 1))
        a, b, w, threshold = _threshold_pairs(idx, sims, self.target_density, self.min_threshold)
        self.add_edges(first + a, first + b, w)
        return threshold

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._src:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
        return np.concatenate(self._src), np.concatenate(self._dst), np.concatenate(self._weight)

    def node_arrays(self) -> dict[str, np.ndarray]:
        return {"node_type": np.concatenate(self._type), "node_row": np.concatenate(self._row),
                "node_molecule": np.concatenate(self._molecule)}


class ContextGraph:
    """Undirected weighted heterogeneous graph over molecules, profiles and entities.

    Build it with :meth:`build`. Edges are stored both ways in CSR form.

    Attributes
    ----------
    n_mol : int
        Number of molecule nodes (node ids ``0 .. n_mol - 1``).
    n_nodes : int
    n_edges : int
        Number of undirected edges (``len(indices) == 2 * n_edges``).
    indptr : ndarray of int64, shape (n_nodes + 1,)
    indices : ndarray of int64, shape (2 * n_edges,)
        Neighbours of node ``u`` are ``indices[indptr[u]:indptr[u + 1]]``, sorted.
    weights : ndarray of float32, shape (2 * n_edges,)
        Edge weights aligned with ``indices``.
    type_names : list of str
        ``["molecule", *profile names, *entity types]``.
    node_type : ndarray of int64, shape (n_nodes,)
        Index into ``type_names``.
    type_offset : ndarray of int64, shape (len(type_names) + 1,)
        Node ids of type ``t`` are ``type_offset[t] .. type_offset[t + 1] - 1``.
    node_row : ndarray of int64, shape (n_nodes,)
        Row of the node within its type: the molecule index for molecules, the row of the
        modality's profile array for profile nodes, the entity index for entities. Callers
        fetch a node's features as ``features[type][node_row[u]]``.
    node_molecule : ndarray of int64, shape (n_nodes,)
        The molecule a molecule or profile node belongs to; ``-1`` for entity nodes.
    entity_names : list of str
        Names of the entity nodes, in node order (node ``type_offset[first entity type] + i``).
    thresholds : dict of str to float
        Similarity threshold used per similarity edge kind (``"molecule"`` and each profile
        name); always ``>= min_threshold``.
    edge_counts : dict of str to int
        Undirected edges per pair of node types, e.g. ``"molecule-expression"``.

    Examples
    --------
    Three molecules (0 and 1 identical) and one expression profile, measured for molecule 2:

    >>> fps = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    >>> g = ContextGraph.build(fps, {"expression": (np.array([[1.0, 0.0]]), np.array([2]))})
    >>> g.n_mol, g.n_nodes, g.edge_counts
    (3, 4, {'molecule-molecule': 1, 'molecule-expression': 1})
    >>> g.node_type.tolist(), g.node_molecule.tolist()
    ([0, 0, 0, 1], [0, 1, 2, 2])
    """

    def __init__(
        self,
        *,
        n_mol: int,
        indptr: np.ndarray,
        indices: np.ndarray,
        weights: np.ndarray,
        type_names: list[str],
        node_type: np.ndarray,
        node_row: np.ndarray,
        node_molecule: np.ndarray,
        entity_names: list[str],
        thresholds: dict[str, float],
    ) -> None:
        self.n_mol = int(n_mol)
        self.indptr = indptr
        self.indices = indices
        self.weights = weights
        self.type_names = list(type_names)
        self.node_type = node_type
        self.node_row = node_row
        self.node_molecule = node_molecule
        self.entity_names = list(entity_names)
        self.thresholds = dict(thresholds)
        counts = np.bincount(node_type, minlength=len(self.type_names))
        self.type_offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.edge_counts = self._count_edges()

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        mol_fps: np.ndarray,
        profiles: Mapping[str, tuple[np.ndarray, np.ndarray]],
        *,
        target_density: float = 0.005,
        min_threshold: float = 0.8,
        max_neighbors: int = 50,
        extra_edges: pd.DataFrame | None = None,
        profiled_knn: int = 0,
    ) -> "ContextGraph":
        """Build the context graph.

        Parameters
        ----------
        mol_fps : ndarray of shape (n_mol, n_bits)
            Binary molecular fingerprints (e.g. Morgan radius 2, 1024 bits).
        profiles : dict of str to (rows, mol_index)
            Per modality: ``rows`` (m, d) the observed profile rows (finite values), and
            ``mol_index`` (m,) the molecule (0-based) each row belongs to. A molecule may have
            several rows. Names must not be ``"molecule"`` and must not contain ``":"``.
        target_density : float, default=0.005
            Fraction of all pairs of a kind that should pass its similarity threshold.
        min_threshold : float, default=0.8
            Floor of every similarity threshold.
        max_neighbors : int, default=50
            Candidates per node for the similarity edges (bounds time and memory).
        extra_edges : DataFrame, optional
            Columns ``source``, ``target`` and optionally ``weight`` (default 1; must be finite
            and > 0). Node names: ``"molecule:<i>"`` is molecule ``i``; ``"<profile name>:<r>"``
            is row ``r`` of that modality; any other ``"<type>:<id>"`` is an entity node of
            type ``<type>`` (e.g. ``"gene:TP53"``) and a name without ``":"`` an entity of type
            ``"entity"``. Entity nodes are created on first mention; they carry no features
            here. Duplicate edges keep the largest weight.
        profiled_knn : int, default=0
            Per modality, also link every molecule without a row in it to the rows (profile
            nodes) of its ``profiled_knn`` most Tanimoto-similar molecules that have one,
            weight = that similarity, whatever the threshold (``PretrainConfig.graph_mol_knn``).
            With the 0.8 floor almost no unprofiled molecule reaches a profile; these edges put
            one within a step of every molecule that shares any bit with a profiled one. (Edges
            to the profiled *molecules* instead would make them hubs whose own profile a walk
            rarely picks.) 0: no such edges.

        Returns
        -------
        ContextGraph

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> fps = np.eye(3, dtype=bool)
        >>> edges = pd.DataFrame({"source": ["molecule:0", "gene:TP53"],
        ...                       "target": ["gene:TP53", "gene:MDM2"], "weight": [0.5, 1.0]})
        >>> g = ContextGraph.build(fps, {}, extra_edges=edges)
        >>> g.type_names, g.entity_names, g.edge_counts
        (['molecule', 'gene'], ['gene:TP53', 'gene:MDM2'], {'molecule-gene': 1, 'gene-gene': 1})
        """
        fps = _checked_fps(mol_fps, profiles, target_density, min_threshold, max_neighbors, profiled_knn)
        parts = _GraphParts(target_density, min_threshold, int(max_neighbors))
        parts.add_nodes(MOLECULE, molecule=np.arange(len(fps), dtype=np.int64))
        thresholds = {MOLECULE: parts.link_similar(0, fps, tanimoto_knn)}
        for name, value in profiles.items():
            thresholds[name] = cls._add_modality(parts, name, value, fps, int(profiled_knn))
        entity_names = cls._add_entities(parts, extra_edges) if extra_edges is not None else []
        indptr, indices, weights = cls._to_csr(*parts.edges(), parts.n_nodes)
        return cls(n_mol=len(fps), indptr=indptr, indices=indices, weights=weights, type_names=parts.type_names,
                   **parts.node_arrays(), entity_names=entity_names, thresholds=thresholds)

    @classmethod
    def _add_modality(cls, parts: "_GraphParts", name: str, value, fps: np.ndarray, profiled_knn: int) -> float:
        """One modality's profile nodes and their edges; returns its similarity threshold."""
        rows, mol_index = cls._check_profile(name, value, len(fps))
        first = parts.add_nodes(name, molecule=mol_index)
        parts.add_edges(mol_index, first + np.arange(len(rows)), np.ones(len(rows)))  # a molecule and its own row
        if profiled_knn:
            # Unmeasured molecules -> the measurements of their nearest measured molecules.
            a, r, w = _profiled_knn_pairs(fps, mol_index, profiled_knn)
            parts.add_edges(a, first + r, w)
        return parts.link_similar(first, rows, _cosine_knn)

    @classmethod
    def _add_entities(cls, parts: "_GraphParts", extra_edges) -> list[str]:
        """The entity nodes that ``extra_edges`` names (contiguous per type) and its edges."""
        a, b, w, names, types = cls._parse_extra_edges(extra_edges, parts.first, parts.size, parts.n_nodes)
        for etype in dict.fromkeys(types):
            parts.add_nodes(etype, molecule=np.full(types.count(etype), -1, dtype=np.int64))
        parts.add_edges(a, b, w)
        return names

    @staticmethod
    def _check_profile(name, value, n_mol):
        if not isinstance(name, str) or not name or name == MOLECULE or ":" in name:
            raise ValueError(f"Profile name {name!r} is not allowed (non-empty, not 'molecule', no ':').")
        try:
            rows, mol_index = value
        except (TypeError, ValueError):
            raise ValueError(f"profiles[{name!r}] must be a pair (rows, mol_index).") from None
        rows = np.asarray(rows, dtype=np.float64)
        mol_index = np.asarray(mol_index)
        if rows.ndim != 2 or mol_index.shape != (rows.shape[0],):
            raise ValueError(
                f"profiles[{name!r}]: rows must be 2-D and mol_index 1-D of the same length, got "
                f"{rows.shape} and {mol_index.shape}."
            )
        if not np.issubdtype(mol_index.dtype, np.integer):
            raise ValueError(f"profiles[{name!r}]: mol_index must be integers, got {mol_index.dtype}.")
        if mol_index.size and (mol_index.min() < 0 or mol_index.max() >= n_mol):
            raise ValueError(f"profiles[{name!r}]: mol_index must lie in [0, {n_mol - 1}].")
        if not np.all(np.isfinite(rows)):
            raise ValueError(f"profiles[{name!r}]: rows must be observed (finite) profiles, found NaN/inf.")
        return rows, mol_index.astype(np.int64)

    @staticmethod
    def _parse_extra_edges(df, offsets, sizes, first_entity):
        if not isinstance(df, pd.DataFrame) or not {"source", "target"} <= set(df.columns):
            raise ValueError("extra_edges must be a DataFrame with columns 'source', 'target' [, 'weight'].")
        w = df["weight"].to_numpy(dtype=np.float64) if "weight" in df.columns else np.ones(len(df))
        if not np.all(np.isfinite(w)) or (w <= 0).any():
            raise ValueError("extra_edges weights must be finite and > 0.")
        entity_ids: dict[str, int] = {}
        entity_types: list[str] = []

        def node(name):
            name = str(name)
            prefix, sep, rest = name.partition(":")
            if sep and prefix in offsets:
                try:
                    r = int(rest)
                except ValueError:
                    raise ValueError(f"extra_edges: {name!r} must be '{prefix}:<row number>'.") from None
                if not 0 <= r < sizes[prefix]:
                    raise ValueError(f"extra_edges: {name!r} is out of range (0..{sizes[prefix] - 1}).")
                return offsets[prefix] + r
            if name not in entity_ids:
                entity_ids[name] = len(entity_ids)
                entity_types.append(prefix if sep else ENTITY)
            return -1 - entity_ids[name]  # provisional; renumbered by type below

        a = np.array([node(s) for s in df["source"]], dtype=np.int64)
        b = np.array([node(t) for t in df["target"]], dtype=np.int64)
        if (a == b).any():
            raise ValueError(f"extra_edges has {(a == b).sum()} self loop(s) (source == target).")
        # Entity ids grouped by type (types in order of first appearance) so types stay contiguous.
        names = list(entity_ids)
        type_rank = {t: r for r, t in enumerate(dict.fromkeys(entity_types))}
        order = sorted(range(len(names)), key=lambda i: (type_rank[entity_types[i]], i))
        new_id = np.empty(len(names), dtype=np.int64)
        new_id[order] = first_entity + np.arange(len(names))
        for ends in (a, b):
            provisional = ends < 0
            ends[provisional] = new_id[-1 - ends[provisional]]
        return a, b, w.astype(np.float32), [names[i] for i in order], [entity_types[i] for i in order]

    @staticmethod
    def _to_csr(a, b, w, n_nodes):
        """Symmetric CSR from undirected pairs; duplicate pairs keep the largest weight."""
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        lo, hi, w = lo[keep], hi[keep], w[keep]
        order = np.lexsort((-w, hi, lo))  # per pair, the largest weight first
        lo, hi, w = lo[order], hi[order], w[order]
        first = np.ones(lo.size, dtype=bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        lo, hi, w = lo[first], hi[first], w[first]
        rows = np.concatenate([lo, hi])
        cols = np.concatenate([hi, lo])
        vals = np.concatenate([w, w]).astype(np.float32)
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_nodes), out=indptr[1:])
        return indptr, cols.astype(np.int64), vals

    def _count_edges(self) -> dict[str, int]:
        rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))
        upper = rows < self.indices
        ta, tb = self.node_type[rows[upper]], self.node_type[self.indices[upper]]
        lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
        counts: dict[str, int] = {}
        if lo.size:
            pairs, n = np.unique(np.stack([lo, hi], axis=1), axis=0, return_counts=True)
            for (x, y), c in zip(pairs.tolist(), n.tolist()):
                counts[f"{self.type_names[x]}-{self.type_names[y]}"] = int(c)
        return counts

    # ------------------------------------------------------------------ queries
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.indptr.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.indices.shape[0] // 2)

    def degree(self) -> np.ndarray:
        """Number of neighbours of every node, shape (n_nodes,)."""
        return np.diff(self.indptr)

    def neighbors(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour ids and edge weights of one node."""
        s, e = self.indptr[node], self.indptr[node + 1]
        return self.indices[s:e], self.weights[s:e]

    def adjacency(self) -> sp.csr_matrix:
        """The weighted adjacency matrix, symmetric, shape (n_nodes, n_nodes)."""
        return sp.csr_matrix((self.weights, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))

    def summary(self) -> str:
        """Human-readable description: nodes per type, edges per kind, thresholds.

        Examples
        --------
        >>> g = ContextGraph.build(np.eye(2, dtype=bool), {})
        >>> print(g.summary().splitlines()[0])
        ContextGraph: 2 nodes, 0 undirected edges, 2 isolated
        """
        deg = self.degree()
        lines = [f"ContextGraph: {self.n_nodes} nodes, {self.n_edges} undirected edges, {(deg == 0).sum()} isolated"]
        for t, name in enumerate(self.type_names):
            n = int(self.type_offset[t + 1] - self.type_offset[t])
            mask = self.node_type == t
            mean_deg = float(deg[mask].mean()) if n else 0.0
            thr = f", similarity threshold {self.thresholds[name]:.3f}" if name in self.thresholds else ""
            lines.append(f"  nodes {name}: {n} (mean degree {mean_deg:.2f}{thr})")
        for kind, c in self.edge_counts.items():
            lines.append(f"  edges {kind}: {c}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ContextGraph(n_nodes={self.n_nodes}, n_edges={self.n_edges}, types={self.type_names})"

    # ------------------------------------------------------------------ walks
    def random_walks(
        self, start: np.ndarray, length: int = 4, rng: np.random.Generator | int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Uniform random walks with accumulated edge weights, all walkers at once.

        Each step moves to a neighbour chosen uniformly at random (edge weights do **not**
        bias the transitions, as in the official ``torch_cluster.random_walk`` with p=q=1);
        the weight of a visited node is the product of the edge weights along the path.

        Parameters
        ----------
        start : ndarray of int, shape (B,)
            Start node of each walk.
        length : int, default=4
            Steps per walk (the walk visits ``length + 1`` nodes, the start included).
        rng : numpy.random.Generator or int or None
            Source of randomness; the walks are a deterministic function of its state.

        Returns
        -------
        nodes : ndarray of int64, shape (B, length + 1)
            ``nodes[:, 0] = start``; once a walk reaches a node without neighbours it stops and
            the remaining positions are ``-1``.
        weights : ndarray of float32, shape (B, length + 1)
            ``weights[:, 0] = 1``; ``weights[:, t]`` = product of the edge weights of the
            first ``t`` steps; 0 after the walk stopped.

        Examples
        --------
        >>> fps = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
        >>> g = ContextGraph.build(fps, {})
        >>> nodes, w = g.random_walks(np.array([0, 2]), length=2, rng=np.random.default_rng(0))
        >>> nodes.tolist(), w.tolist()
        ([[0, 1, 0], [2, -1, -1]], [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"length must be a non-negative integer, got {length!r}.")
        start = np.asarray(start)
        if start.ndim != 1 or not (np.issubdtype(start.dtype, np.integer) or start.size == 0):
            raise ValueError(f"start must be a 1-D integer array, got shape {start.shape}, dtype {start.dtype}.")
        start = start.astype(np.int64)
        if start.size and (start.min() < 0 or start.max() >= self.n_nodes):
            raise ValueError(f"start nodes must lie in [0, {self.n_nodes - 1}].")
        rng = np.random.default_rng(rng)
        B = start.shape[0]
        nodes = np.full((B, length + 1), -1, dtype=np.int64)
        weights = np.zeros((B, length + 1), dtype=np.float32)
        nodes[:, 0] = start
        weights[:, 0] = 1.0
        cur = start.copy()
        acc = np.ones(B, dtype=np.float64)
        alive = np.ones(B, dtype=bool)
        for t in range(1, length + 1):
            # One uniform draw per walker per step, dead or alive, so the stream consumed does
            # not depend on where walks died.
            u = rng.random(B)
            safe = np.where(alive, cur, 0)
            lo = self.indptr[safe]
            deg = self.indptr[safe + 1] - lo
            alive &= deg > 0
            pick = lo + np.minimum((u * deg).astype(np.int64), np.maximum(deg - 1, 0))
            pick = np.where(alive, pick, 0)
            if self.indices.size == 0:
                break
            nxt = self.indices[pick]
            acc = np.where(alive, acc * self.weights[pick], 0.0)
            cur = np.where(alive, nxt, -1)
            nodes[:, t] = cur
            weights[:, t] = acc
        return nodes, weights
