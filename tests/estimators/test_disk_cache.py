"""CHMRTransformer(cache_dir=...): persistent embeddings shared by instances, clones and processes."""

import pickle
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone

from chmr_sklearn import CHMRTransformer
from chmr_sklearn._inputs import to_smiles
from chmr_sklearn.estimators._disk_cache import (
    CACHE_FILENAME,
    SCHEMA_VERSION,
    CacheError,
    CacheWarning,
    EmbeddingCache,
)
from chmr_sklearn.estimators._engine import EmbeddingEngine
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
from chmr_sklearn.pretrain.checkpoint import load_checkpoint, save_checkpoint

from _tolerance import assert_consistent


@pytest.fixture
def no_compute(monkeypatch):
    """Make any embedding computation fail: everything must come from a cache."""
    def forbidden(self, smiles):
        raise AssertionError(f"recomputed {len(smiles)} molecule(s)")

    monkeypatch.setattr(EmbeddingEngine, "compute", forbidden)


@pytest.fixture
def count_compute(monkeypatch):
    calls = []
    original = EmbeddingEngine.compute

    def counting(self, smiles):
        calls.append(list(smiles))
        return original(self, smiles)

    monkeypatch.setattr(EmbeddingEngine, "compute", counting)
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
    fresh = CHMRTransformer(cache=False).fit(X).transform(X)  # no cache at all, this process's threads
    assert len(count_compute) == 1
    assert_consistent(fresh, emb)
    # a new molecule is computed once, then served from disk to a new instance
    new = ["CC(=O)Oc1ccccc1C(=O)O"]
    first = CHMRTransformer(cache_dir=cache_dir).fit(X).transform(X + new)
    assert count_compute[1:] == [new]
    again = CHMRTransformer(cache_dir=cache_dir).fit(X).transform(new)
    assert len(count_compute) == 2 and again.tobytes() == first[-1:].tobytes()


def test_keys_differ_by_model_precision_and_seed(filled, tmp_path, count_compute):
    cache_dir, X, emb = filled
    base = CHMRTransformer(cache_dir=cache_dir).fit(X)
    f64 = CHMRTransformer(cache_dir=cache_dir, precision="float64").fit(X)  # the default is float32
    seeded = CHMRTransformer(cache_dir=cache_dir, random_state=1).fit(X)
    # another model: the shipped weights with one matrix scaled
    ckpt = load_checkpoint(DEFAULT_MODEL)
    state = dict(ckpt["model"])
    state["gnn.convs.0.mlp.3.weight"] = state["gnn.convs.0.mlp.3.weight"] * 1.01
    path = save_checkpoint(tmp_path / "other.pt", config=ckpt.config, spec=ckpt["spec"], model_state=state,
                           scaler=ckpt["scaler"])
    other = CHMRTransformer(pretrained=str(path), cache_dir=cache_dir).fit(X)
    settings = [t._engine().settings() for t in (base, f64, seeded, other)]
    assert len({repr(sorted(s.items())) for s in settings}) == 4
    assert settings[3]["model_sha256"] != settings[0]["model_sha256"]
    refit = clone(base).fit(X)
    refit._engine().settings()
    assert refit.set_params(pretrained=str(path)).fit(X)._engine().settings() == settings[3]  # refit re-hashes
    assert base.transform(X).tobytes() == emb.tobytes() and not count_compute
    got_other = other.transform(X[:2])
    got_f64 = f64.transform(X[:2])
    keys = [to_smiles(s) for s in X[:2]]
    assert count_compute == [keys, keys]  # neither reused the float32 default-model rows
    assert not np.array_equal(got_other[:, 1491:1791], emb[:2, 1491:1791])  # z2d: the GIN changed
    assert not np.array_equal(got_f64, emb[:2]) and np.allclose(got_f64, emb[:2], rtol=1e-3, atol=1e-4)


def test_corrupt_cache_file_gives_a_clear_error_and_is_kept(tmp_path, smiles_200):
    path = tmp_path / CACHE_FILENAME
    path.write_bytes(b"this is not an SQLite database" * 100)
    t = CHMRTransformer(cache_dir=tmp_path).fit(smiles_200[:2])
    with pytest.raises(CacheError, match="corrupt") as info:
        t.transform(smiles_200[:2])
    assert str(path) in str(info.value) and "cache_dir" in str(info.value)
    assert path.read_bytes().startswith(b"this is not")  # never deleted behind the user's back


# ---- several processes, one file ---------------------------------------------------------------
_WORKER = textwrap.dedent("""
    import sys, time, pathlib
    import numpy as np
    from chmr_sklearn import CHMRTransformer
    cache_dir, mols, step, go, out = sys.argv[1], sys.argv[2].split(" "), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    t = CHMRTransformer(cache_dir=cache_dir, n_jobs=1).fit(mols)
    while not pathlib.Path(go).exists():  # start together: both processes write at the same time
        time.sleep(0.01)
    # requests of a few molecules, as a service would get them: many interleaved transactions
    np.save(out, np.concatenate([t.transform(mols[i:i + step]) for i in range(0, len(mols), step)]))
""")


def test_two_processes_sharing_a_cache_lose_nothing_and_agree_bit_for_bit(wehi_smiles, tmp_path, no_compute):
    # 75 real molecules: worker A embeds the first 50, worker B the last 50 in reverse order
    # (25 shared), in requests of different sizes, so shared molecules land in different
    # batches; at the default float32 their recomputed rows may differ in the last bits.
    mols = [to_smiles(s) for s in wehi_smiles[3000:3075]]
    jobs = {"a": (mols[:50], 5), "b": (mols[25:][::-1], 7)}
    cache_dir, go = tmp_path / "cache", tmp_path / "go"
    procs = {
        name: subprocess.Popen([sys.executable, "-c", _WORKER, str(cache_dir), " ".join(part), str(step), str(go),
                                str(tmp_path / f"{name}.npy")], stderr=subprocess.PIPE, text=True)
        for name, (part, step) in jobs.items()
    }
    go.touch()
    for proc in procs.values():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    got = {name: dict(zip(part, np.load(tmp_path / f"{name}.npy"), strict=True)) for name, (part, _) in jobs.items()}
    for smiles in mols[25:50]:  # both computed or read them: the same bytes in both processes
        assert got["a"][smiles].tobytes() == got["b"][smiles].tobytes(), smiles
    # nothing lost: every molecule is in the file, with the bytes its worker returned
    cached = CHMRTransformer(cache_dir=cache_dir, cache=False).fit(mols).transform(mols)  # no_compute
    expected = np.stack([got["a"].get(s, got["b"].get(s)) for s in mols])
    assert cached.tobytes() == expected.tobytes()


def test_put_returns_the_row_stored_first(tmp_path, smiles_200):
    keys = smiles_200[:3]
    first = np.arange(9, dtype=np.float32).reshape(3, 3)
    with EmbeddingCache(tmp_path, "ns", {"m": 1}, width=3) as cache:
        assert cache.put(keys[:2], first[:2]).tobytes() == first[:2].tobytes()
    with EmbeddingCache(tmp_path, "ns", {"m": 1}, width=3) as cache:  # a second process, later
        second = first + np.float32(1e-6)  # the same molecules, last bits different
        kept = cache.put(keys, second)
        assert kept[:2].tobytes() == first[:2].tobytes() and kept[2].tobytes() == second[2].tobytes()
        assert second[0].tobytes() != first[0].tobytes()  # the caller's array is left alone


# ---- versions -----------------------------------------------------------------------------------
def _stored(tmp_path, smiles, settings=None):
    """A cache file holding one row, written by this version."""
    settings = settings or {"chmr_sklearn": "0.1.0", "model_sha256": "m"}
    with EmbeddingCache(tmp_path, "ns", settings, width=3) as cache:
        cache.put([smiles], np.ones((1, 3), dtype=np.float32))
    return tmp_path / CACHE_FILENAME


def _tamper(path, *statements):
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


@pytest.mark.parametrize("layout", [1, SCHEMA_VERSION + 1])
def test_a_cache_of_another_layout_is_refused_with_a_clear_message(tmp_path, smiles_200, layout):
    path = _stored(tmp_path, smiles_200[0])
    _tamper(path, f"PRAGMA user_version = {layout}")
    before = path.read_bytes()
    word = "an older" if layout < SCHEMA_VERSION else "a newer"
    with pytest.raises(CacheError, match=f"written by {word} chmr_sklearn .cache layout {layout}") as info:
        EmbeddingCache(tmp_path, "ns", {"chmr_sklearn": "0.1.0", "model_sha256": "m"}, width=3).__enter__()
    assert "Delete the file" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before  # refused, not rewritten


def test_the_unstamped_first_layout_is_refused(tmp_path, smiles_200):
    # chmr_sklearn 0.1.0's file: the same two tables, no user_version / application_id, no meta
    path = tmp_path / CACHE_FILENAME
    _tamper(path, "CREATE TABLE namespaces (namespace TEXT PRIMARY KEY, settings TEXT NOT NULL, width INTEGER NOT NULL)",
            "CREATE TABLE embeddings (namespace TEXT NOT NULL, smiles TEXT NOT NULL, row BLOB NOT NULL, "
            "PRIMARY KEY (namespace, smiles))",
            "INSERT INTO namespaces VALUES ('ns', '{}', 3)")
    with pytest.raises(CacheError, match=r"an older chmr_sklearn \(cache layout 1"):
        EmbeddingCache(tmp_path, "ns", {}, width=3).__enter__()


def test_another_sqlite_database_is_not_touched(tmp_path):
    path = tmp_path / CACHE_FILENAME
    _tamper(path, "CREATE TABLE notes (text TEXT)")
    with pytest.raises(CacheError, match="not a CHMR embedding cache .tables: notes"):
        EmbeddingCache(tmp_path, "ns", {}, width=3).__enter__()
    conn = sqlite3.connect(path)
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master")} == {"notes"}
    conn.close()


def test_altered_settings_of_a_namespace_are_refused_not_mixed_in(tmp_path, smiles_200):
    # The stored version of the rows is changed behind the hash that keys them: reading them
    # would mix rows of another package version into this one's results.
    path = _stored(tmp_path, smiles_200[0])
    _tamper(path, """UPDATE namespaces SET settings = '{"chmr_sklearn": "0.0.9", "model_sha256": "m"}'""")
    with pytest.raises(CacheError, match=r"differ from it \(chmr_sklearn\).*not used"):
        EmbeddingCache(tmp_path, "ns", {"chmr_sklearn": "0.1.0", "model_sha256": "m"}, width=3).__enter__()


def test_rows_of_an_older_package_version_are_ignored_with_a_warning(filled, tmp_path, monkeypatch,
                                                                     count_compute):
    import shutil

    from chmr_sklearn.estimators import transformer as transformer_module

    cache_dir, X, emb = filled
    mine = tmp_path / "copy"  # a copy: the module's other tests read the shared file
    shutil.copytree(cache_dir, mine)
    monkeypatch.setattr(transformer_module, "__version__", "9.9.9")  # a newer installation opens it
    with pytest.warns(CacheWarning, match=r"holds \d+ rows computed by chmr_sklearn 0\.1\.0; they are ignored"):
        got = CHMRTransformer(cache_dir=mine).fit(X).transform(X)
    assert count_compute == [[to_smiles(s) for s in X]]  # recomputed, not read from the 0.1.0 rows
    np.testing.assert_allclose(got, emb, rtol=1e-5, atol=1e-6)


_WRITER = textwrap.dedent("""
    import hashlib, sys, time, pathlib
    import numpy as np
    from chmr_sklearn.estimators._disk_cache import EmbeddingCache
    directory, keys, go = sys.argv[1], pathlib.Path(sys.argv[2]).read_text().splitlines(), pathlib.Path(sys.argv[3])
    def rows_of(ks):
        return np.array([np.random.default_rng(int(hashlib.sha256(k.encode()).hexdigest()[:8], 16)).random(8)
                         for k in ks], dtype=np.float32)
    while not go.exists():
        time.sleep(0.005)
    for k in keys:  # one molecule per open + transaction: the most interleaving there can be
        with EmbeddingCache(directory, "ns", {"v": 1}, width=8) as cache:
            if k not in cache.get([k]):
                cache.put([k], rows_of([k]))
""")


def test_four_writers_creating_one_file_at_once_lose_nothing(wehi_smiles, tmp_path):
    # four processes (~8 s of CPU), 800 transactions on a file they create together
    import hashlib

    procs = []
    for w in range(4):  # overlapping halves: each molecule is written by two processes
        keys = tmp_path / f"keys{w}.txt"
        keys.write_text("\n".join(wehi_smiles[100 * w : 100 * w + 200]))
        procs.append(subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "c"), str(keys),
                                       str(tmp_path / "go")], stderr=subprocess.PIPE, text=True))
    (tmp_path / "go").touch()
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
    everything = list(dict.fromkeys(wehi_smiles[:500]))
    with EmbeddingCache(tmp_path / "c", "ns", {"v": 1}, width=8) as cache:
        got = cache.get(everything)
    assert len(got) == len(everything)
    for k in everything:
        seed = int(hashlib.sha256(k.encode()).hexdigest()[:8], 16)
        assert got[k].tobytes() == np.random.default_rng(seed).random(8).astype(np.float32).tobytes()
