"""Context graph (CPR): structure, thresholds, extra entity edges, weighted random walks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from chmr_sklearn.profiles import ContextGraph, ProfileTable, inchikeys_from_smiles


@pytest.fixture(scope="module")
def real_inputs(l1000_drugbank, cmea_cellpainting, morgan):
    """DrugBank + Broad molecules with their real L1000 and Cell Painting profiles."""
    expr = ProfileTable(l1000_drugbank, name="expression", inchikey_col="inchikey")
    morph = ProfileTable(cmea_cellpainting, name="morphology", inchikey_col="inchikey")
    smiles = pd.concat([l1000_drugbank["smiles"], cmea_cellpainting["smiles"]], ignore_index=True)
    keys = inchikeys_from_smiles(smiles)
    first = pd.Series(keys).drop_duplicates().index.to_numpy()
    keys, smiles = keys[first], smiles.iloc[first].tolist()
    fps = morgan(smiles)
    profiles = {}
    for table in (expr, morph):
        X, observed = table.align(keys)
        profiles[table.name] = (X[observed], np.flatnonzero(observed))
    assert len(profiles["expression"][1]) > 1000 and len(profiles["morphology"][1]) > 140
    return smiles, fps, profiles, keys


@pytest.fixture(scope="module")
def graph(real_inputs):
    _, fps, profiles, _ = real_inputs
    return ContextGraph.build(fps, profiles)


def _edge_set(g, kind_a, kind_b):
    A = sp.triu(g.adjacency(), k=1).tocoo()
    ta, tb = g.node_type[A.row], g.node_type[A.col]
    a, b = g.type_names.index(kind_a), g.type_names.index(kind_b)
    mask = ((ta == a) & (tb == b)) | ((ta == b) & (tb == a))
    return A.row[mask], A.col[mask], A.data[mask]


# ----------------------------------------------------------------------------- structure
def test_node_layout(graph, real_inputs):
    _, fps, profiles, _ = real_inputs
    n_mol = len(fps)
    m_e, m_c = len(profiles["expression"][1]), len(profiles["morphology"][1])
    g = graph
    assert g.type_names == ["molecule", "expression", "morphology"]
    assert g.n_mol == n_mol and g.n_nodes == n_mol + m_e + m_c
    assert g.type_offset.tolist() == [0, n_mol, n_mol + m_e, n_mol + m_e + m_c]
    np.testing.assert_array_equal(g.node_type, np.repeat([0, 1, 2], [n_mol, m_e, m_c]))
    np.testing.assert_array_equal(g.node_row[n_mol : n_mol + m_e], np.arange(m_e))
    np.testing.assert_array_equal(g.node_molecule[n_mol : n_mol + m_e], profiles["expression"][1])
    np.testing.assert_array_equal(g.node_molecule[n_mol + m_e :], profiles["morphology"][1])


def test_csr_symmetric_and_clean(graph):
    g = graph
    A = g.adjacency()
    assert (A != A.T).nnz == 0
    assert A.diagonal().sum() == 0
    assert (g.weights > 0).all() and g.weights.dtype == np.float32
    assert len(g.indices) == 2 * g.n_edges == A.nnz
    assert sum(g.edge_counts.values()) == g.n_edges
    for u in range(0, g.n_nodes, 97):
        nb, _ = g.neighbors(u)
        assert (np.diff(nb) > 0).all()  # sorted, no duplicate edges


def test_molecule_profile_edges_weight_one(graph, real_inputs):
    _, _, profiles, _ = real_inputs
    g = graph
    for name, (_, mol_index) in profiles.items():
        t = g.type_names.index(name)
        nodes = np.arange(g.type_offset[t], g.type_offset[t + 1])
        A = g.adjacency()
        np.testing.assert_array_equal(np.asarray(A[mol_index, nodes]).ravel(), 1.0)
        assert g.edge_counts[f"molecule-{name}"] == len(mol_index)


def test_similarity_edges_and_thresholds(graph, real_inputs):
    smiles, _, profiles, _ = real_inputs
    g = graph
    assert set(g.thresholds) == {"molecule", "expression", "morphology"}
    assert all(t >= 0.8 for t in g.thresholds.values())
    # molecule-molecule weights are the real Tanimoto similarities, above the threshold
    a, b, w = _edge_set(g, "molecule", "molecule")
    assert len(a) > 50
    assert (w >= g.thresholds["molecule"]).all()
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    for i, j, wij in list(zip(a, b, w))[:40]:
        fa, fb = (gen.GetFingerprint(Chem.MolFromSmiles(smiles[x])) for x in (i, j))
        assert abs(DataStructs.TanimotoSimilarity(fa, fb) - wij) < 1e-6
    # profile-profile weights are cosine similarities of the rows
    rows = profiles["expression"][0]
    a, b, w = _edge_set(g, "expression", "expression")
    assert len(a) > 10 and (w >= g.thresholds["expression"]).all()
    off = g.type_offset[1]
    ra, rb = rows[a - off], rows[b - off]
    cos = (ra * rb).sum(1) / np.linalg.norm(ra, axis=1) / np.linalg.norm(rb, axis=1)
    np.testing.assert_allclose(w, cos, atol=1e-5)
    # no similarity edges across modalities
    assert "expression-morphology" not in g.edge_counts


def test_threshold_hits_target_density_exactly_without_cap(wehi_smiles, morgan):
    fps = morgan(wehi_smiles[1000:1300])
    n = len(fps)
    g = ContextGraph.build(fps, {}, target_density=0.01, min_threshold=0.0, max_neighbors=n - 1)
    A = fps.astype(float)
    inter = A @ A.T
    cnt = A.sum(1)
    S = inter / np.maximum(cnt[:, None] + cnt[None, :] - inter, 1)
    iu = np.triu_indices(n, k=1)
    pair_sims = S[iu].astype(np.float32)
    target = round(0.01 * n * (n - 1) / 2)
    assert g.thresholds["molecule"] == pytest.approx(np.sort(pair_sims)[::-1][target - 1], abs=1e-6)
    expected = {(int(i), int(j)) for i, j, s in zip(*iu, pair_sims) if s >= g.thresholds["molecule"] and s > 0}
    a, b, _ = _edge_set(g, "molecule", "molecule")
    assert set(zip(a.tolist(), b.tolist())) == expected
    assert len(expected) >= target
    # with a small candidate cap, a kept pair is in the top-3 of one of its ends
    g3 = ContextGraph.build(fps, {}, target_density=0.01, min_threshold=0.0, max_neighbors=3)
    a3, b3, w3 = _edge_set(g3, "molecule", "molecule")
    np.fill_diagonal(S, -1)
    top3 = np.argsort(-S, axis=1, kind="stable")[:, :3]
    assert 0 < len(a3) <= len(expected)
    for i, j in zip(a3, b3):
        assert j in top3[i] or i in top3[j]
    assert (w3 >= g3.thresholds["molecule"]).all()
    assert g3.thresholds["molecule"] <= g.thresholds["molecule"]  # quantile over fewer candidates
    # the floor wins when the density quantile is lower
    assert ContextGraph.build(fps, {}, target_density=0.01).thresholds["molecule"] == 0.8


def test_summary_and_repr(graph):
    text = graph.summary()
    assert f"{graph.n_nodes} nodes" in text and f"{graph.n_edges} undirected edges" in text
    assert "expression" in text and "similarity threshold" in text
    assert f"edges molecule-expression: {graph.edge_counts['molecule-expression']}" in text
    assert "ContextGraph(" in repr(graph)


# ----------------------------------------------------------------------------- extra edges
def test_extra_edges_add_gene_entities(real_inputs, cmea_l1000):
    _, fps, profiles, keys = real_inputs
    # molecule-gene edges from the largest |z| of real L1000 signatures (as the official code),
    # plus a gene-gene edge, a profile-node reference and a duplicate with a larger weight
    genes = list(cmea_l1000.columns[4:])
    z = cmea_l1000[genes].to_numpy()[:3]
    mol = [int(np.flatnonzero(keys == k)[0]) for k in inchikeys_from_smiles(cmea_l1000["smiles"][:3])]
    top = np.argsort(-np.abs(z), axis=1)[:, :2]
    rows = [(f"molecule:{mol[i]}", f"gene:{genes[j]}", abs(z[i, j])) for i in range(3) for j in top[i]]
    rows += [(f"gene:{genes[top[0, 0]]}", f"gene:{genes[top[1, 0]]}", 0.7), ("expression:3", "pathway", 0.5)]
    rows += [(f"gene:{genes[top[0, 0]]}", f"molecule:{mol[0]}", abs(z[0, top[0, 0]]) + 1.0)]  # duplicate
    edges = pd.DataFrame(rows, columns=["source", "target", "weight"])
    g = ContextGraph.build(fps, profiles, extra_edges=edges)
    assert g.type_names == ["molecule", "expression", "morphology", "gene", "entity"]
    n_genes = len({f"gene:{genes[j]}" for j in top.ravel()})
    assert g.type_offset[4] - g.type_offset[3] == n_genes and g.type_offset[5] - g.type_offset[4] == 1
    assert g.entity_names[-1] == "pathway" and all(e.startswith("gene:") for e in g.entity_names[:-1])
    first_entity = int(g.type_offset[3])
    node = {name: first_entity + k for k, name in enumerate(g.entity_names)}
    A = g.adjacency()
    g0 = f"gene:{genes[top[0, 0]]}"
    assert A[mol[0], node[g0]] == pytest.approx(abs(z[0, top[0, 0]]) + 1.0)  # max of the duplicates
    assert A[node[f"gene:{genes[top[2, 1]]}"], mol[2]] == pytest.approx(abs(z[2, top[2, 1]]))
    assert A[node[g0], node[f"gene:{genes[top[1, 0]]}"]] == pytest.approx(0.7)
    assert A[g.type_offset[1] + 3, node["pathway"]] == pytest.approx(0.5)
    assert (g.node_molecule[first_entity:] == -1).all()
    assert g.node_row[node["pathway"]] == 0
    assert g.edge_counts["molecule-gene"] == 6 and g.edge_counts["expression-entity"] == 1
    # the graph without extra edges is a subgraph
    base = ContextGraph.build(fps, profiles)
    assert g.n_edges == base.n_edges + len(edges) - 1


@pytest.mark.parametrize(
    "rows, match",
    [
        ([("molecule:99999", "gene:A", 1.0)], "out of range"),
        ([("molecule:x", "gene:A", 1.0)], "row number"),
        ([("gene:A", "gene:B", 0.0)], "> 0"),
        ([("gene:A", "gene:B", np.nan)], "> 0"),
        ([("gene:A", "gene:A", 1.0)], "self loop"),
    ],
)
def test_extra_edges_validation(rows, match):
    fps = np.eye(4, dtype=bool)
    with pytest.raises(ValueError, match=match):
        ContextGraph.build(fps, {}, extra_edges=pd.DataFrame(rows, columns=["source", "target", "weight"]))


def test_build_validation():
    fps = np.eye(4, dtype=bool)
    rows = np.ones((2, 3))
    with pytest.raises(ValueError, match="mol_index must lie"):
        ContextGraph.build(fps, {"expr": (rows, np.array([0, 4]))})
    with pytest.raises(ValueError, match="not allowed"):
        ContextGraph.build(fps, {"molecule": (rows, np.array([0, 1]))})
    with pytest.raises(ValueError, match="finite"):
        ContextGraph.build(fps, {"expr": (np.full((2, 3), np.nan), np.array([0, 1]))})
    with pytest.raises(ValueError, match="same length"):
        ContextGraph.build(fps, {"expr": (rows, np.array([0]))})
    with pytest.raises(ValueError, match="target_density"):
        ContextGraph.build(fps, {}, target_density=0)
    with pytest.raises(ValueError, match="binary"):
        ContextGraph.build(fps * 3, {})


# ----------------------------------------------------------------------------- random walks
def test_random_walks_follow_edges_with_path_weights(graph):
    g = graph
    A = g.adjacency().tolil()
    deg = g.degree()
    rng = np.random.default_rng(7)
    start = np.concatenate([np.arange(g.n_mol), np.arange(g.n_mol, g.n_nodes, 5)])
    nodes, weights = g.random_walks(start, length=4, rng=rng)
    assert nodes.shape == weights.shape == (len(start), 5)
    assert nodes.dtype == np.int64 and weights.dtype == np.float32
    np.testing.assert_array_equal(nodes[:, 0], start)
    assert (weights[:, 0] == 1).all()
    moved = 0
    for b in range(0, len(start), 3):
        acc = 1.0
        for t in range(1, 5):
            u, v = nodes[b, t - 1], nodes[b, t]
            if v == -1:
                # a walk stops only at a dead end, and stays stopped
                assert u == -1 or deg[u] == 0
                assert (nodes[b, t:] == -1).all() and (weights[b, t:] == 0).all()
                break
            assert A[u, v] > 0  # only existing edges
            acc *= A[u, v]
            assert weights[b, t] == pytest.approx(acc, rel=1e-5)
            moved += 1
    assert moved > 1000
    # isolated start nodes are padded right away
    isolated = np.flatnonzero(deg[start] == 0)
    assert isolated.size > 0
    assert (nodes[isolated, 1:] == -1).all() and (weights[isolated, 1:] == 0).all()
    # walks from non-isolated nodes never stop (no dead ends further on in an undirected graph)
    assert (nodes[deg[start] > 0] >= 0).all()


def test_random_walks_deterministic_given_rng(graph):
    start = np.arange(0, graph.n_nodes, 3)
    n1, w1 = graph.random_walks(start, rng=np.random.default_rng(123))
    n2, w2 = graph.random_walks(start, rng=np.random.default_rng(123))
    n3, _ = graph.random_walks(start, rng=np.random.default_rng(124))
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_array_equal(w1, w2)
    assert (n1 != n3).any()


def test_random_walk_transitions_are_uniform_not_weighted():
    # hub entity with two molecule neighbours of very different edge weights
    edges = pd.DataFrame(
        {"source": ["hub", "hub"], "target": ["molecule:0", "molecule:1"], "weight": [0.9, 0.1]}
    )
    g = ContextGraph.build(np.eye(3, dtype=bool), {}, extra_edges=edges)
    hub = g.n_nodes - 1
    nodes, weights = g.random_walks(np.full(20000, hub), length=2, rng=np.random.default_rng(0))
    frac0 = np.mean(nodes[:, 1] == 0)
    assert 0.48 < frac0 < 0.52  # weights would give 0.9
    assert set(np.unique(nodes[:, 1])) == {0, 1} and (nodes[:, 2] == hub).all()
    np.testing.assert_allclose(weights[nodes[:, 1] == 0, 1:], [[0.9, 0.81]] * int((nodes[:, 1] == 0).sum()), rtol=1e-6)
    np.testing.assert_allclose(weights[nodes[:, 1] == 1, 2], 0.01, rtol=1e-5)
    # molecule 2 is isolated
    n2, w2 = g.random_walks(np.array([2]), length=3, rng=np.random.default_rng(0))
    assert n2.tolist() == [[2, -1, -1, -1]] and w2.tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_random_walks_validation(graph):
    with pytest.raises(ValueError, match="start nodes"):
        graph.random_walks(np.array([graph.n_nodes]), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="length"):
        graph.random_walks(np.array([0]), length=-1, rng=np.random.default_rng(0))
    nodes, weights = graph.random_walks(np.array([], dtype=np.int64), rng=np.random.default_rng(0))
    assert nodes.shape == (0, 5) and weights.shape == (0, 5)
