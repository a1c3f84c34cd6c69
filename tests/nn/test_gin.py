"""Tests of the pure-torch GIN with virtual node."""

import pytest
import torch
from torch import nn

from chmr_sklearn.nn import ATOM_FEATURE_DIMS, GINVirtualNode, scatter_sum
from chmr_sklearn.nn.gin import GINConv

from ._graphs import collate, make_graph, small_molecules


def _run(model, b):
    return model(b["x"], b["edge_index"], b["edge_attr"], b["batch"], b["num_graphs"])


def _trained_model(seed=0, **kwargs):
    """Small model whose BatchNorm running statistics are not the trivial initial ones."""
    torch.manual_seed(seed)
    model = GINVirtualNode(num_layers=3, emb_dim=16, **kwargs)
    b = collate(small_molecules())
    with torch.no_grad():
        for _ in range(3):
            _run(model.train(), b)
    return model.eval()


def test_feature_vocabularies_are_ogb():
    assert ATOM_FEATURE_DIMS == (119, 5, 12, 12, 10, 6, 6, 2, 2)
    assert sum(ATOM_FEATURE_DIMS) == 174


def test_output_shape_and_finite(batch):
    model = _trained_model()
    out = _run(model, batch)
    assert out.shape == (4, 16)
    assert torch.isfinite(out).all()


def test_default_parameter_count_matches_ogb_architecture():
    # InfoAlign/CHMR's encoder has 3,340,205 parameters, 3,900 of which are an unused
    # top-level BondEncoder (13 bond vocabulary rows x 300) that we do not build.
    n_params = sum(p.numel() for p in GINVirtualNode().parameters())
    assert n_params == 3_340_205 - 13 * 300


def test_permutation_invariance(batch):
    model = _trained_model()
    expected = _run(model, batch)
    g = torch.Generator().manual_seed(1)
    perm = torch.randperm(batch["x"].shape[0], generator=g)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())  # old node id -> new node id
    edge_perm = torch.randperm(batch["edge_index"].shape[1], generator=g)
    permuted = {
        "x": batch["x"][perm],
        "batch": batch["batch"][perm],
        "edge_index": inv[batch["edge_index"]][:, edge_perm],
        "edge_attr": batch["edge_attr"][edge_perm],
        "num_graphs": batch["num_graphs"],
    }
    assert not torch.equal(permuted["x"], batch["x"])
    torch.testing.assert_close(_run(model, permuted), expected, rtol=1e-5, atol=1e-5)


def test_batch_equals_graphs_one_by_one(molecules):
    model = _trained_model()
    together = _run(model, collate(molecules))
    alone = torch.cat([_run(model, collate([m])) for m in molecules])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_graph_without_atoms_gives_zero_row(molecules):
    model = _trained_model()
    empty = make_graph(0, [])
    out = _run(model, collate([molecules[0], empty, molecules[1]]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], torch.zeros(16))
    torch.testing.assert_close(out[[0, 2]], _run(model, collate([molecules[0], molecules[1]])))


@pytest.mark.parametrize("training", [True, False])
def test_batch_without_any_atom(training):
    model = _trained_model().train(training)
    before = model.batch_norms[0].running_mean.clone()
    b = collate([make_graph(0, []), make_graph(0, [])])
    out = _run(model, b)
    assert out.shape == (2, 16) and torch.equal(out, torch.zeros(2, 16))
    assert out.requires_grad  # a loss on it can still call backward()
    torch.testing.assert_close(model.batch_norms[0].running_mean, before)


def test_out_of_range_features_use_misc_index(molecules):
    model = _trained_model()
    b = collate(molecules)
    misc = b["x"].clone()
    misc[0, 0], misc[1, 0], misc[2, 6] = 118, 118, 5  # last index of each vocabulary
    odd = b["x"].clone()
    odd[0, 0], odd[1, 0], odd[2, 6] = 500, -3, 17
    odd_attr = b["edge_attr"].clone()
    odd_attr[0, 1] = 99
    misc_attr = b["edge_attr"].clone()
    misc_attr[0, 1] = 5
    got = model(odd, b["edge_index"], odd_attr, b["batch"], b["num_graphs"])
    want = model(misc, b["edge_index"], misc_attr, b["batch"], b["num_graphs"])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_feature_embedding_is_the_sum_of_one_row_per_feature_table(batch, dtype):
    encoder = _trained_model().to(dtype).atom_encoder
    x = batch["x"]
    want = sum(table.weight[x[:, i]] for i, table in enumerate(encoder.embeddings))
    got = encoder(x)
    assert got.dtype == dtype and got.shape == (len(x), 16)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-12)


def test_wrong_feature_width_raises(batch):
    model = _trained_model()
    with pytest.raises(ValueError, match="9"):
        model(batch["x"][:, :5], batch["edge_index"], batch["edge_attr"], batch["batch"], 4)


def test_gradients_reach_every_parameter(batch):
    torch.manual_seed(0)
    model = GINVirtualNode(num_layers=3, emb_dim=16, dropout=0.0).train()
    out = _run(model, batch)
    # A sum of BatchNorm outputs has zero gradient; use a random quadratic instead.
    (out * torch.randn(16)).pow(2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.convs[0].eps.grad.abs().item() > 0
    assert model.virtualnode_embedding.weight.grad.abs().sum() > 0
    assert model.atom_encoder.embeddings[0].weight.grad.abs().sum() > 0
    assert model.mlp_virtualnode_list[0][0].weight.grad.abs().sum() > 0


def test_message_goes_from_source_to_target():
    torch.manual_seed(0)
    conv = GINConv(4)
    conv.mlp = nn.Identity()  # out = (1 + eps) * h + sum of messages
    for emb in conv.bond_encoder.embeddings:
        nn.init.zeros_(emb.weight)
    h = torch.tensor([[1.0, -2.0, 3.0, 0.5], [0.0, 1.0, -1.0, 2.0]])
    out = conv(h, torch.tensor([[0], [1]]), torch.zeros(1, 3, dtype=torch.long))
    torch.testing.assert_close(out[0], h[0])  # node 0 receives nothing
    torch.testing.assert_close(out[1], h[1] + torch.relu(h[0]))


def test_scatter_sum_adds_rows_per_bucket():
    src = torch.tensor([[1.0], [2.0], [4.0]])
    assert scatter_sum(src, torch.tensor([2, 0, 2]), 3).flatten().tolist() == [2.0, 0.0, 5.0]


@pytest.mark.parametrize("kwargs", [{"num_layers": 1}, {"residual": False}])
def test_variants_run(kwargs, batch):
    torch.manual_seed(0)
    out = _run(GINVirtualNode(emb_dim=8, **kwargs).train(), batch)
    assert out.shape == (4, 8) and torch.isfinite(out).all()


def test_initialisation_is_deterministic():
    torch.manual_seed(3)
    a = GINVirtualNode(num_layers=2, emb_dim=8).state_dict()
    torch.manual_seed(3)
    b = GINVirtualNode(num_layers=2, emb_dim=8).state_dict()
    torch.manual_seed(4)
    c = GINVirtualNode(num_layers=2, emb_dim=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["atom_encoder.embeddings.0.weight"], c["atom_encoder.embeddings.0.weight"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda(batch):
    model = _trained_model().cuda()
    cpu = _run(model.cpu(), batch)
    model.cuda()
    gpu = _run(model, {k: v.cuda() if torch.is_tensor(v) else v for k, v in batch.items()})
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
