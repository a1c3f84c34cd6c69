"""The encoder options of the "fast" recipe (issue 14) on real molecules: no 3D modality, a narrower GIN."""

import numpy as np
import pytest
import torch

from _tiny import tiny_config, tiny_corpus
from chmr_sklearn.pretrain import RECIPES, PretrainConfig, Pretrainer


def test_fast_recipe_is_the_new_one_without_3d_and_with_a_narrow_gin():
    assert RECIPES["fast"] == {**RECIPES["new"], "conformer_method": "none", "gin_dim": 128}
    PretrainConfig(**RECIPES["fast"])  # valid as a whole


def test_lean_recipe_keeps_a_cheaper_3d_block():
    lean = PretrainConfig(**RECIPES["lean"])
    assert lean.conformer_method == "dg" and lean.gin_dim == 128 and lean.conformer_force_tol == 1e-2
    assert lean.conformer_descriptors == ["autocorr3d", "whim", "usr", "shape"]
    assert PretrainConfig.from_dict(lean.to_dict()) == lean  # survives the checkpoint's JSON
    assert lean.featurization()["conformer_descriptors"] == lean.conformer_descriptors


@pytest.mark.parametrize("bad", [{"gin_dim": 0}, {"conformer_method": "uff"}, {"conformer_force_tol": 0.0}])
def test_bad_encoder_options_raise(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        PretrainConfig(**bad)


def test_pretraining_without_3d_builds_a_1d_2d_encoder(data_home):
    config = tiny_config(conformer_method="none", gin_dim=8, max_epochs=2)
    corpus = tiny_corpus(config)
    assert corpus.mol.conf.shape[1] == 0 and not corpus.mol.conf_ok.any()
    trainer = Pretrainer(config).fit(corpus)
    model = trainer.model_.eval()
    assert model.molecular_modalities == ("1d", "2d") and "3d" not in model.projectors
    assert model.gnn.emb_dim == 8 and trainer.spec_["conf_dim"] == 0
    losses = trainer.history_[-1]
    assert all(np.isfinite(losses[k]) for k in ("loss", "sca", "tree", "cpr")) and losses["sca"] > 0
    with torch.no_grad():
        z = model.encode(**corpus.mol.torch_batch(np.arange(5)))
    assert sorted(z) == ["1d", "2d"]
    torch.testing.assert_close(model.anchor(z), z["1d"] + z["2d"], rtol=0, atol=0)
