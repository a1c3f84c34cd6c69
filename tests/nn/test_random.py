"""Local-generator randomness: initialisation and dropout never touch torch's global generator."""

import torch

from chmr_sklearn.nn import CHMRModel, Decoder
from chmr_sklearn.nn._random import dropout, init_parameters, set_dropout_generator
from chmr_sklearn.pretrain import build_model

SPEC = {"fp_dim": 20, "conf_dim": 6, "bio_dims": {"expression": 7}, "latent_dim": 8,
        "gin": {"num_layers": 2, "emb_dim": 8}, "tree": "tree", "tree_depth": 3, "eta": 1.0,
        "recon_dims": {"molecule": 20, "expression": 7}}


def test_generator_build_leaves_global_rng_alone_and_matches_a_plain_build():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = build_model(SPEC, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before)
    b = build_model(SPEC, generator=torch.Generator().manual_seed(1))
    c = build_model(SPEC, generator=torch.Generator().manual_seed(2))
    plain = build_model(SPEC)  # PyTorch's own initialisation (global generator)
    sa, sb, sc, sp = a.state_dict(), b.state_dict(), c.state_dict(), plain.state_dict()
    assert sa.keys() == sp.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    for key, value in sp.items():
        random = value.is_floating_point() and value.numel() > 1 and float(value.std()) > 0
        if random:  # drawn: other seed differs, same scale as PyTorch's draw
            assert not torch.equal(sa[key], sc[key]), key
            if value.numel() >= 100:  # small biases: too few values for a stable ratio
                assert 0.7 < float(sa[key].std() / value.std()) < 1.4, key
        else:  # constants (norm layers, running statistics, virtual node, GIN eps) equal PyTorch's
            assert torch.equal(sa[key], value), key


def test_init_parameters_covers_every_drawn_tensor():
    model = CHMRModel(**{k: v for k, v in SPEC.items()})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_parameters(model, torch.Generator().manual_seed(0))
    for key, value in model.state_dict().items():
        drawn = value.is_floating_point() and value.numel() > 1 and float(before[key].std()) > 0
        assert (not torch.equal(value, before[key])) == drawn, key


def test_dropout_draws_from_the_set_generator_only():
    dec = Decoder(4, 3, hidden=64, dropout=0.5).train()
    x = torch.randn(5, 4)
    set_dropout_generator(dec, torch.Generator().manual_seed(0))
    torch.manual_seed(9)
    before = torch.get_rng_state()
    first = dec(x)
    assert torch.equal(torch.get_rng_state(), before)
    set_dropout_generator(dec, torch.Generator().manual_seed(0))
    torch.testing.assert_close(dec(x), first, rtol=0, atol=0)
    set_dropout_generator(dec, torch.Generator().manual_seed(1))
    assert not torch.equal(dec(x), first)
    # Without a generator: torch's usual dropout (global generator), unchanged behaviour.
    set_dropout_generator(dec, None)
    torch.manual_seed(3)
    a = dec(x)
    torch.manual_seed(3)
    torch.testing.assert_close(dec(x), a, rtol=0, atol=0)


def test_dropout_keeps_the_expectation():
    g = torch.Generator().manual_seed(0)
    out = dropout(torch.ones(200, 200), 0.3, True, g)
    values = out.unique()
    assert len(values) == 2 and values[0] == 0 and abs(float(values[1]) - 1 / 0.7) < 1e-6
    assert abs(float(out.mean()) - 1.0) < 0.02
    assert torch.equal(dropout(torch.ones(3), 0.3, False, g), torch.ones(3))
