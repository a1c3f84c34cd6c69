"""Tests of Projector, Decoder and MLPHead."""

import pytest
import torch
from torch import nn

from chmr_sklearn.nn import Decoder, MLPHead, Projector
from chmr_sklearn.nn._random import GeneratorDropout


def _layer_types(module):
    return [type(m) for m in module]


def test_projector_layers_and_output():
    torch.manual_seed(0)
    proj = Projector(10, 4)
    assert _layer_types(proj) == [nn.LayerNorm, nn.Linear, nn.SiLU]
    assert proj[0].normalized_shape == (10,) and proj[1].out_features == 4
    out = proj(torch.randn(7, 10) * 50)
    assert out.shape == (7, 4)
    assert out.min() >= -0.2785  # SiLU's minimum is about -0.27846


def test_projector_default_latent_is_300():
    assert Projector(5)[1].out_features == 300


def test_projector_is_scale_invariant_thanks_to_layernorm():
    torch.manual_seed(0)
    proj = Projector(6, 3)
    x = torch.randn(4, 6)
    torch.testing.assert_close(proj(x), proj(10 * x), rtol=1e-4, atol=1e-4)


def test_decoder_layers_and_defaults():
    dec = Decoder(out_dim=7)
    assert _layer_types(dec) == [nn.LayerNorm, nn.Linear, nn.GELU, GeneratorDropout, nn.Linear]
    assert dec[1].in_features == 300 and dec[1].out_features == 1200
    assert dec[3].p == 0.3 and dec[4].out_features == 7
    with pytest.raises(TypeError, match="out_dim"):
        Decoder(300)


def test_decoder_eval_is_deterministic_and_train_uses_dropout():
    torch.manual_seed(0)
    dec = Decoder(4, 5, hidden=64, dropout=0.5)
    x = torch.randn(3, 4)
    dec.eval()
    torch.testing.assert_close(dec(x), dec(x))
    dec.train()
    assert not torch.equal(dec(x), dec(x))


@pytest.mark.parametrize("norm, norm_type", [("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)])
def test_mlp_head_layers(norm, norm_type):
    head = MLPHead(6, 8, 3, dropout=0.2, norm=norm)
    assert _layer_types(head)[0] is nn.Linear and isinstance(head[1], norm_type)
    assert isinstance(head[2], nn.GELU) and head[3].p == 0.2 and head[4].out_features == 3
    assert head(torch.randn(5, 6)).shape == (5, 3)


def test_mlp_head_batchnorm_survives_a_one_row_training_batch():
    torch.manual_seed(0)
    head = MLPHead(6, 8, 2, norm="batch").train()
    head(torch.randn(16, 6))  # update running statistics
    out = head(torch.randn(1, 6))  # plain BatchNorm1d would raise here
    assert out.shape == (1, 2) and torch.isfinite(out).all()


def test_mlp_head_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm"):
        MLPHead(4, 4, 1, norm="group")
