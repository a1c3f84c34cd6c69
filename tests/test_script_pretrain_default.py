"""scripts/pretrain_default.py's corpus cache: reused for the same molecules and settings only."""

from __future__ import annotations

import pandas as pd
import pytest
from _scripts import load_script

from chmr_sklearn.datasets import get_data_home
from chmr_sklearn.pretrain import RECIPES, PretrainConfig

script = load_script("scripts/pretrain_default.py")


@pytest.fixture(scope="module")
def inputs():
    """30 Cell Painting compounds (real profiles) and their table."""
    morphology = script.load_profiles(get_data_home())["morphology"].head(30)
    return morphology["smiles"].tolist(), {"morphology": morphology}


def _config(**changes) -> PretrainConfig:
    tiny = {"latent_dim": 16, "gin_layers": 1, "gin_dim": 16, "conformer_method": "none", "max_epochs": 1}
    return PretrainConfig(**{**RECIPES["gentle"], **tiny, **changes})


def test_corpus_cache_is_reused_only_for_the_same_corpus(tmp_path, inputs, capsys):
    smiles, profiles = inputs
    cache = tmp_path / "corpus.pkl"
    built, cached = script.build_corpus(smiles, profiles, _config(), 1, cache)
    assert not cached and cache.is_file()
    # Other epochs or learning rate: the same corpus, loaded.
    again, cached = script.build_corpus(smiles, profiles, _config(max_epochs=5, lr=1e-3), 1, cache)
    assert cached and again.fingerprint() == built.fingerprint()
    # Other profile values for the same molecules: rebuilt, never the stale one.
    changed = profiles["morphology"].copy()
    changed.iloc[0, 1] += 1.0
    remeasured, cached = script.build_corpus(smiles, {"morphology": changed}, _config(), 1, cache)
    assert not cached and remeasured.fingerprint() != built.fingerprint()
    # Other molecules or corpus settings: rebuilt too.
    fewer, cached = script.build_corpus(smiles[:-5], {"morphology": profiles["morphology"].head(25)}, _config(), 1,
                                        cache)
    assert not cached and len(fewer) == len(smiles) - 5
    other, cached = script.build_corpus(smiles[:-5], {"morphology": profiles["morphology"].head(25)},
                                        _config(knn_k=3), 1, cache)
    assert not cached and other.fingerprint() != fewer.fingerprint()
    assert "holds another corpus" in capsys.readouterr().out
    pd.testing.assert_index_equal(pd.Index(other.smiles), pd.Index(smiles[:-5]))


def test_main_exports_a_model_and_its_manifest(tmp_path, capsys):
    """The whole script on the real profiles, tiny encoder: default.pt loads, the manifest says how it was made."""
    import json

    from chmr_sklearn import CHMRTransformer

    tiny = ["latent_dim=16", "gin_layers=1", "gin_dim=16", "conformer_method=none"]
    script.main(["--limit", "1", "--epochs", "1", "--device", "cpu", "--n-jobs", "1", "--out", str(tmp_path),
                 "--checkpoint-dir", str(tmp_path / "ckpt"), "--set", *tiny])
    manifest = json.loads((tmp_path / "default.json").read_text())
    assert manifest["file"] == "default.pt" and manifest["recipe"] == "gentle" and manifest["epochs"] == 1
    assert manifest["config"]["latent_dim"] == 16 and manifest["overrides"]["gin_layers"] == 1
    assert len(manifest["history"]) == 1 and manifest["data"]["observed"]["expression"] > 1000
    assert manifest["n_molecules"] >= manifest["data"]["observed"]["expression"]  # profiled molecules are kept
    embedding = CHMRTransformer(pretrained=str(tmp_path / "default.pt")).fit_transform(["CCO", "c1ccccc1O"])
    assert embedding.shape[0] == 2 and not (embedding != embedding).any()
    assert "wrote" in capsys.readouterr().out
