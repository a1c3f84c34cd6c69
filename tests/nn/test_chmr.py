"""Tests of CHMRModel: wiring, masks, state dicts, determinism."""

import pytest
import torch

from chmr_sklearn.nn import CHMRModel, Decoder, TreeVQ, info_nce

from ._graphs import collate, small_molecules

FP, CONF, LATENT = 12, 5, 8
BIO = {"expression": 7, "cell.painting": 9}
RECON = {"molecule": FP, "expression": 7, "cell.painting": 9}


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    params = dict(fp_dim=FP, conf_dim=CONF, bio_dims=BIO, latent_dim=LATENT,
                  gin={"num_layers": 2, "emb_dim": 16}, tree_depth=3, recon_dims=RECON)
    params.update(kwargs)
    return CHMRModel(**params)


def _inputs(conf_mask=(True, False, True, True)):
    g = torch.Generator().manual_seed(0)
    graph = collate(small_molecules())
    graph["conf"] = torch.randn(4, CONF, generator=g)
    graph["conf"][1] = float("nan")  # a failed conformer may carry NaN descriptors
    graph["conf_mask"] = torch.tensor(conf_mask)
    fp = (torch.rand(4, FP, generator=g) > 0.5).double()  # numpy-style float64 input
    return fp, graph


def test_submodules_and_keys():
    model = _model()
    assert set(model.projectors) == {"1d", "2d", "3d", "expression", "cell_painting"}
    assert model.bio_keys == {"expression": "expression", "cell.painting": "cell_painting"}
    assert model.bio_names == ["expression", "cell.painting"]
    assert isinstance(model.tree_vq, TreeVQ) and model.tree_vq.n_levels == 3
    assert all(isinstance(d, Decoder) for d in model.decoders.values()) and len(model.decoders) == 3


def test_encode_shapes_and_anchor():
    model = _model().eval()
    fp, graph = _inputs()
    z = model.encode(fp, graph)
    assert set(z) == {"1d", "2d", "3d"}
    assert all(v.shape == (4, LATENT) and v.dtype == torch.float32 for v in z.values())
    assert torch.isfinite(torch.stack(list(z.values()))).all()
    torch.testing.assert_close(model.anchor(z), z["1d"] + z["2d"] + z["3d"])
    torch.testing.assert_close(model(fp, graph)["2d"], z["2d"])


def test_3d_latent_is_zero_where_conformer_failed():
    model = _model().eval()
    fp, graph = _inputs(conf_mask=(True, False, True, False))
    z3 = model.encode(fp, graph)["3d"]
    assert torch.equal(z3[[1, 3]], torch.zeros(2, LATENT))
    assert (z3[[0, 2]].abs().sum(dim=1) > 0).all()
    # float 0/1 masks behave like booleans; no mask means every conformer is valid
    graph["conf_mask"] = torch.tensor([1.0, 0.0, 1.0, 0.0])
    torch.testing.assert_close(model.encode(fp, graph)["3d"], z3)
    fp, graph = _inputs()
    del graph["conf_mask"]
    graph["conf"][1] = 0.0
    assert (model.encode(fp, graph)["3d"].abs().sum(dim=1) > 0).all()


def test_conf_and_mask_may_be_passed_as_arguments():
    # The featurizers hand over {"fp", "graph", "conf", "conf_mask"} as keyword arguments.
    model = _model().eval()
    fp, graph = _inputs(conf_mask=(True, False, True, False))
    expected = model.encode(fp, graph)
    conf, mask = graph.pop("conf"), graph.pop("conf_mask").float()
    got = model.encode(fp=fp, graph=graph, conf=conf, conf_mask=mask)
    for k in expected:
        torch.testing.assert_close(got[k], expected[k])
    with pytest.raises(KeyError, match="conf"):
        model.encode(fp, graph)


def test_bio_and_decoders_use_user_names():
    model = _model().eval()
    z = model.encode_bio("cell.painting", torch.randn(4, 9))
    assert z.shape == (4, LATENT)
    assert model.decode("cell.painting", z).shape == (4, 9)
    assert model.decode("molecule", z).shape == (4, FP)
    with pytest.raises(KeyError, match="unknown bio modality"):
        model.encode_bio("morphology", torch.randn(4, 9))
    with pytest.raises(KeyError, match="no decoder"):
        model.decode("gene", z)


def test_awkward_names_get_distinct_keys():
    model = _model(bio_dims={"a.b": 3, "a_b": 4, "1d": 5, "keys": 6, "": 2}, recon_dims=None)
    keys = model.bio_keys
    assert len(set(keys.values())) == 5
    assert not {"1d", "2d", "3d"} & set(keys.values())
    for name, dim in {"a.b": 3, "a_b": 4, "1d": 5, "keys": 6, "": 2}.items():
        assert model.encode_bio(name, torch.randn(2, dim)).shape == (2, LATENT)


def test_encoder_state_dict_excludes_decoders_and_round_trips():
    model = _model().eval()
    state = model.encoder_state_dict()
    assert not any(k.startswith("decoders.") for k in state)
    assert any(k.startswith("gnn.") for k in state)
    assert any(k.startswith("projectors.cell_painting.") for k in state)
    assert any(k.startswith("tree_vq.codebooks.") for k in state)
    assert len(state) + sum(1 for k in model.state_dict() if k.startswith("decoders.")) == len(
        model.state_dict()
    )
    # An encoder-only model (no decoders) built from another seed takes these weights.
    other = _model(seed=1, recon_dims=None).eval()
    other.load_encoder_state_dict(state)
    fp, graph = _inputs()
    za, zb = model.encode(fp, graph), other.encode(fp, graph)
    for k in za:
        torch.testing.assert_close(za[k], zb[k])
    with pytest.raises(RuntimeError, match="missing"):
        other.load_encoder_state_dict({k: v for k, v in state.items() if not k.startswith("gnn.")})


def test_config_rebuilds_the_same_architecture():
    model = _model()
    clone = CHMRModel(**model.config)
    assert {k: v.shape for k, v in clone.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_initialisation_is_deterministic():
    a, b, c = _model(seed=7).state_dict(), _model(seed=7).state_dict(), _model(seed=8).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_molecular_modalities_only_and_tree_options():
    for tree, n_levels in [("tree", 3), ("flat", 1)]:
        model = _model(bio_dims=None, recon_dims=None, tree=tree)
        assert set(model.projectors) == {"1d", "2d", "3d"} and len(model.decoders) == 0
        assert model.tree_vq.n_levels == n_levels
    assert _model(bio_dims={}, tree=None).tree_vq is None
    with pytest.raises(ValueError, match="tree"):
        _model(tree="forest")
    with pytest.raises(TypeError, match="conf_dim"):
        CHMRModel(fp_dim=FP)


def test_gradients_flow_from_pretraining_losses():
    model = _model(gin={"num_layers": 2, "emb_dim": 16, "dropout": 0.0}).train()
    fp, graph = _inputs()
    z = model.encode(fp, graph)
    anchor = model.anchor(z)
    bio = model.encode_bio("expression", torch.randn(4, 7))
    loss = info_nce(anchor, bio) + model.tree_vq(z["2d"]).loss
    loss = loss + model.decode("molecule", anchor).pow(2).mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for prefix in ["gnn.atom_encoder.", "projectors.1d.", "projectors.3d.",
                   "projectors.expression.", "tree_vq.", "decoders.molecule."]:
        assert any(g is not None and g.abs().sum() > 0
                   for n, g in grads.items() if n.startswith(prefix)), prefix
    assert all(grads[n] is None for n in grads if n.startswith("decoders.expression."))


def test_reference_parameter_count():
    # The official CHMR pretraining model has 15,228,835 parameters, including an
    # unused 3,900-weight BondEncoder in the GIN (see test_gin).
    model = CHMRModel(
        fp_dim=1191, conf_dim=512, bio_dims={"gene": 1973, "cell": 2749, "expr": 978},
        recon_dims={"molecule": 1024, "gene": 1973, "cell": 2749, "expr": 978},
    )
    assert sum(p.numel() for p in model.parameters()) == 15_228_835 - 3_900
    encoder = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("decoders."))
    assert encoder == (3_340_205 - 3_900) + 2_328_106 + 126 * 300  # GIN + projectors + tree


def test_pickle_round_trip_keeps_outputs():
    import pickle

    model = _model().eval()
    clone = pickle.loads(pickle.dumps(model))
    fp, graph = _inputs()
    torch.testing.assert_close(clone.encode(fp, graph)["2d"], model.encode(fp, graph)["2d"])
    assert clone.bio_keys == model.bio_keys and clone.config == model.config
