"""CHMRTransformer: shipped model offline, outputs, tree codes, cache, pickling, pretraining API."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from chmr_sklearn import CHMRTransformer
from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL

MOLECULE_XFAIL = {"check_fit_score_takes_y": "random floats are not molecules (fit_transform embeds them)"}


@parametrize_with_checks([CHMRTransformer()], legacy=False, expected_failed_checks=lambda e: MOLECULE_XFAIL)
def test_sklearn_api(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def fitted(smiles_200):
    return CHMRTransformer().fit(smiles_200)


def test_default_model_is_shipped_and_loads_offline(fitted):
    assert DEFAULT_MODEL.is_file()
    assert DEFAULT_MODEL.stat().st_size < 20e6
    assert not fitted.model_.training  # frozen encoder runs in eval mode
    assert len(fitted.model_.decoders) == 0
    assert fitted.history_, "the manifest's pretraining curve travels with the model"


def test_outputs_shapes_and_names(fitted, smiles_200):
    X = smiles_200[:30]
    concat = fitted.transform(X)
    assert concat.shape == (30, 2091) and np.isfinite(concat).all()
    names = fitted.get_feature_names_out()
    assert len(names) == 2091 and names[0] == "morgan_0" and names[1191] == "z1d_0" and names[-1] == "z3d_299"
    latents = clone(fitted).set_params(output="latents").fit(X).transform(X)
    anchor = clone(fitted).set_params(output="anchor").fit(X).transform(X)
    np.testing.assert_array_equal(latents, concat[:, 1191:])
    np.testing.assert_allclose(anchor, latents[:, :300] + latents[:, 300:600] + latents[:, 600:], rtol=1e-6)
    # the fingerprint block is the exact 1191-bit fingerprint
    from chmr_sklearn.featurize import FingerprintFeaturizer

    np.testing.assert_array_equal(concat[:, :1191], FingerprintFeaturizer().fit_transform(X))


def test_molecules_get_distinct_embeddings_and_order_is_kept(fitted, smiles_200):
    X = smiles_200[:20]
    emb = fitted.transform(X)
    rev = fitted.transform(X[::-1])
    np.testing.assert_array_equal(rev, emb[::-1])
    latent = emb[:, 1191:]
    assert len(np.unique(latent.round(5), axis=0)) == 20


def test_tree_codes_follow_the_tree(fitted, smiles_200):
    codes = fitted.tree_codes(smiles_200)
    assert codes.shape == (200, 6) and codes.dtype == np.int64
    for h in range(1, 6):
        assert (codes[:, h] // 2 == codes[:, h - 1]).all()
        assert codes[:, h].max() < 2 ** (h + 1)
    assert len(np.unique(codes[:, -1])) > 1, "all molecules collapsed onto one leaf"


def test_invalid_molecules_raise_or_give_nan(fitted, smiles_200):
    X = [smiles_200[0], "garbage", None, smiles_200[1]]
    with pytest.raises(InvalidMoleculeError) as info:
        fitted.transform(X)
    assert info.value.rows == [1, 2]
    lenient = clone(fitted).set_params(on_invalid="nan").fit(X)
    emb = lenient.transform(X)
    assert emb.shape == (4, 2091)
    assert np.isnan(emb[[1, 2]]).all() and np.isfinite(emb[[0, 3]]).all()
    # embeddings do not depend on the other molecules of the batch (float64 inference)
    np.testing.assert_array_equal(emb[[0, 3]], fitted.transform([smiles_200[0], smiles_200[1]]))
    codes = lenient.tree_codes(X)
    assert (codes[[1, 2]] == -1).all() and (codes[[0, 3]] >= 0).all()


def test_cache_is_keyed_by_canonical_smiles(smiles_200, monkeypatch):
    t = CHMRTransformer().fit(smiles_200[:5])
    calls = []
    original = CHMRTransformer._compute

    def counting(self, smiles, seed):
        calls.append(list(smiles))
        return original(self, smiles, seed)

    monkeypatch.setattr(CHMRTransformer, "_compute", counting)
    first = t.transform(["OCC", "c1ccccc1"])
    second = t.transform(["CCO", "C1=CC=CC=C1", "OCC"])  # same molecules, other spellings
    assert calls == [["CCO", "c1ccccc1"]]
    np.testing.assert_array_equal(second[[0, 2]], first[[0, 0]])
    no_cache = CHMRTransformer(cache=False).fit(smiles_200[:5])
    no_cache.transform(["CCO"]), no_cache.transform(["CCO"])
    assert len(calls) == 3


def test_pickle_round_trip_drops_cache_keeps_outputs(smiles_200):
    X = smiles_200[:10]
    fitted = CHMRTransformer().fit(X)
    before = fitted.transform(X)
    blob = pickle.dumps(fitted)
    assert len(blob) < 40e6
    loaded = pickle.loads(blob)
    assert loaded._cache == {}
    np.testing.assert_array_equal(loaded.transform(X), before)


def test_pandas_output_and_dataframe_input(smiles_200):
    df = pd.DataFrame({"id": range(8), "smiles": smiles_200[:8]}, index=list("abcdefgh"))
    out = CHMRTransformer(output="anchor").set_output(transform="pandas").fit(df).transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list("abcdefgh")
    assert list(out.columns[:2]) == ["anchor_0", "anchor_1"]


def test_profiles_only_for_pretraining(smiles_200, data_home):
    expr = pd.read_csv(data_home / "cell" / "derived_cmea_l1000_162.csv.gz").iloc[:5, 2:20]
    with pytest.raises(ValueError, match="only used when pretraining"):
        CHMRTransformer().fit(smiles_200[:5], profiles={"expression": expr})
    with pytest.raises(FileNotFoundError):
        CHMRTransformer(pretrained="/nonexistent/model.pt").fit(smiles_200[:5])


def test_pretraining_from_scratch_through_the_public_api(data_home, wehi_smiles, tmp_path):
    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    profiles = {"morphology": morph.drop(columns=["broad_id", "pert_iname", "inchikey"]).iloc[:, :120]}
    X = list(morph["smiles"]) + wehi_smiles[:40]
    kwargs = {"pretrained": None, "max_epochs": 2, "batch_size": 64, "random_state": 0,
              "checkpoint_dir": str(tmp_path)}
    t = CHMRTransformer(**kwargs).fit(X, profiles=profiles)
    assert [h["epoch"] for h in t.history_] == [1, 2]
    emb = t.transform(X[:10])
    assert emb.shape == (10, 2091) and np.isfinite(emb).all()
    # same random_state -> identical encoder and embeddings
    again = CHMRTransformer(**dict(kwargs, checkpoint_dir=None)).fit(X, profiles=profiles)
    np.testing.assert_array_equal(again.transform(X[:10]), emb)
    # the checkpoint it wrote is loadable as pretrained=path
    from_ckpt = CHMRTransformer(pretrained=str(tmp_path / "last.pt")).fit(X[:3])
    np.testing.assert_allclose(from_ckpt.transform(X[:10]), emb, rtol=1e-5, atol=1e-6)


def test_float32_precision_is_close_to_the_exact_default(smiles_200):
    X = smiles_200[:40]
    exact = CHMRTransformer().fit(X).transform(X)
    fast = CHMRTransformer(precision="float32").fit(X).transform(X)
    np.testing.assert_array_equal(fast[:, :1191], exact[:, :1191])
    np.testing.assert_allclose(fast, exact, rtol=1e-3, atol=1e-4)
    codes = CHMRTransformer(precision="float32").fit(X).tree_codes(X)
    assert (codes == CHMRTransformer().fit(X).tree_codes(X)).mean() > 0.95
    with pytest.raises(ValueError, match="precision"):
        CHMRTransformer(precision="float16").fit(X)
