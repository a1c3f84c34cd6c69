"""CHMRTransformer(cache_dir=...): persistent embeddings shared by instances, clones and processes."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone

from chmr_sklearn import CHMRTransformer
from chmr_sklearn._inputs import to_smiles
from chmr_sklearn.estimators._disk_cache import CACHE_FILENAME, CacheError
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
from chmr_sklearn.pretrain.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def no_compute(monkeypatch):
    """Make any embedding computation fail: everything must come from a cache."""
    def forbidden(self, smiles, seed):
        raise AssertionError(f"recomputed {len(smiles)} molecule(s)")

    monkeypatch.setattr(CHMRTransformer, "_compute", forbidden)


@pytest.fixture
def count_compute(monkeypatch):
    calls = []
    original = CHMRTransformer._compute

    def counting(self, smiles, seed):
        calls.append(list(smiles))
        return original(self, smiles, seed)

    monkeypatch.setattr(CHMRTransformer, "_compute", counting)
    return calls


@pytest.fixture(scope="module")
def filled(tmp_path_factory, smiles_200):
    """A cache filled by ANOTHER Python process, and the molecules it holds."""
    cache_dir = tmp_path_factory.mktemp("cache")
    X = smiles_200[100:104]
    code = textwrap.dedent(f"""
        import numpy as np
        from chmr_sklearn import CHMRTransformer
        t = CHMRTransformer(cache_dir={str(cache_dir)!r}, n_jobs=1).fit({X!r})
        np.save({str(cache_dir / "emb.npy")!r}, t.transform({X!r}))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    return cache_dir, X, np.load(cache_dir / "emb.npy")


def test_cache_written_by_another_process_is_read_bit_for_bit(filled, no_compute):
    cache_dir, X, emb = filled
    assert (cache_dir / CACHE_FILENAME).is_file()
    t = CHMRTransformer(cache_dir=cache_dir).fit(X)
    got = t.transform(X)
    assert got.tobytes() == emb.tobytes()
    # other spellings of the same molecules hit the canonical-SMILES keys
    from rdkit import Chem

    respelled = [Chem.MolToSmiles(Chem.MolFromSmiles(s), doRandom=True) for s in X[::-1]]
    np.testing.assert_array_equal(CHMRTransformer(cache_dir=cache_dir).fit(X).transform(respelled), emb[::-1])
    # GridSearchCV-style clones and unpickled copies share it too
    np.testing.assert_array_equal(clone(t).fit(X).transform(X), emb)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(t)).transform(X), emb)
    # every output mode is a projection of the cached full rows
    anchor = clone(t).set_params(output="anchor").fit(X).transform(X)
    np.testing.assert_array_equal(anchor, emb[:, 1191:1491] + emb[:, 1491:1791] + emb[:, 1791:])


def test_cached_rows_equal_freshly_computed_ones(filled, count_compute):
    cache_dir, X, emb = filled
    fresh = CHMRTransformer(cache=False).fit(X).transform(X)  # no cache at all
    assert len(count_compute) == 1
    assert fresh.tobytes() == emb.tobytes()
    # a new molecule is computed once, then served from disk to a new instance
    new = ["CC(=O)Oc1ccccc1C(=O)O"]
    first = CHMRTransformer(cache_dir=cache_dir).fit(X).transform(X + new)
    assert count_compute[1:] == [new]
    again = CHMRTransformer(cache_dir=cache_dir).fit(X).transform(new)
    assert len(count_compute) == 2 and again.tobytes() == first[-1:].tobytes()


def test_keys_differ_by_model_precision_and_seed(filled, tmp_path, count_compute):
    cache_dir, X, emb = filled
    base = CHMRTransformer(cache_dir=cache_dir).fit(X)
    f32 = CHMRTransformer(cache_dir=cache_dir, precision="float32").fit(X)
    seeded = CHMRTransformer(cache_dir=cache_dir, random_state=1).fit(X)
    # another model: the shipped weights with one matrix scaled
    ckpt = load_checkpoint(DEFAULT_MODEL)
    state = dict(ckpt["model"])
    state["gnn.convs.0.mlp.3.weight"] = state["gnn.convs.0.mlp.3.weight"] * 1.01
    path = save_checkpoint(tmp_path / "other.pt", config=ckpt.config, spec=ckpt["spec"], model_state=state,
                           scaler=ckpt["scaler"])
    other = CHMRTransformer(pretrained=str(path), cache_dir=cache_dir).fit(X)
    settings = [t._embedding_settings() for t in (base, f32, seeded, other)]
    assert len({repr(sorted(s.items())) for s in settings}) == 4
    assert settings[3]["model_sha256"] != settings[0]["model_sha256"]
    refit = clone(base).fit(X)
    refit._embedding_settings()
    assert refit.set_params(pretrained=str(path)).fit(X)._embedding_settings() == settings[3]  # refit re-hashes
    assert base.transform(X).tobytes() == emb.tobytes() and not count_compute
    got_other = other.transform(X[:2])
    got_f32 = f32.transform(X[:2])
    keys = [to_smiles(s) for s in X[:2]]
    assert count_compute == [keys, keys]  # neither reused the float64 default-model rows
    assert not np.array_equal(got_other[:, 1491:1791], emb[:2, 1491:1791])  # z2d: the GIN changed
    assert not np.array_equal(got_f32, emb[:2]) and np.allclose(got_f32, emb[:2], rtol=1e-3, atol=1e-4)


def test_corrupt_cache_file_gives_a_clear_error_and_is_kept(tmp_path, smiles_200):
    path = tmp_path / CACHE_FILENAME
    path.write_bytes(b"this is not an SQLite database" * 100)
    t = CHMRTransformer(cache_dir=tmp_path).fit(smiles_200[:2])
    with pytest.raises(CacheError, match="corrupt") as info:
        t.transform(smiles_200[:2])
    assert str(path) in str(info.value) and "cache_dir" in str(info.value)
    assert path.read_bytes().startswith(b"this is not")  # never deleted behind the user's back
