"""Hand-built molecular graphs for the nn tests (no RDKit needed)."""

from __future__ import annotations

import torch

from chmr_sklearn.nn import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS


def make_graph(n_atoms: int, bonds: list[tuple[int, int]], seed: int = 0) -> dict:
    """One graph with random in-vocabulary features; each bond listed in both directions."""
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(0, d, (n_atoms,), generator=g) for d in ATOM_FEATURE_DIMS], 1)
    x = x.reshape(n_atoms, len(ATOM_FEATURE_DIMS))
    bond_attr = torch.stack(
        [torch.randint(0, d, (len(bonds),), generator=g) for d in BOND_FEATURE_DIMS], 1
    ).reshape(len(bonds), len(BOND_FEATURE_DIMS))
    src = [i for i, j in bonds] + [j for i, j in bonds]
    dst = [j for i, j in bonds] + [i for i, j in bonds]
    return {
        "x": x,
        "edge_index": torch.tensor([src, dst], dtype=torch.long).reshape(2, -1),
        "edge_attr": torch.cat([bond_attr, bond_attr]),
    }


def collate(graphs: list[dict]) -> dict:
    """Disjoint union of graphs, PyG style: offsets edge indices, builds ``batch``."""
    xs, edges, attrs, batch, offset = [], [], [], [], 0
    for gid, g in enumerate(graphs):
        n = g["x"].shape[0]
        xs.append(g["x"])
        edges.append(g["edge_index"] + offset)
        attrs.append(g["edge_attr"])
        batch.append(torch.full((n,), gid, dtype=torch.long))
        offset += n
    return {
        "x": torch.cat(xs),
        "edge_index": torch.cat(edges, 1),
        "edge_attr": torch.cat(attrs),
        "batch": torch.cat(batch),
        "num_graphs": len(graphs),
    }


def small_molecules() -> list[dict]:
    """Four toy molecules: a chain, a ring with a branch, a lone atom, a star."""
    return [
        make_graph(3, [(0, 1), (1, 2)], seed=1),
        make_graph(6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (2, 5)], seed=2),
        make_graph(1, [], seed=3),
        make_graph(5, [(0, 1), (0, 2), (0, 3), (0, 4)], seed=4),
    ]
