"""CHMRTransformer: shipped model offline, outputs, tree codes, cache, pickling, pretraining API."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from chmr_sklearn import CHMRTransformer
from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.estimators import _engine
from chmr_sklearn.estimators._engine import EmbeddingEngine
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL

from _tolerance import assert_consistent

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
    # embeddings do not depend on the other molecules of the batch (within float32's tolerance)
    assert_consistent(emb[[0, 3]], fitted.transform([smiles_200[0], smiles_200[1]]))
    codes = lenient.tree_codes(X)
    assert (codes[[1, 2]] == -1).all() and (codes[[0, 3]] >= 0).all()


def test_cache_is_keyed_by_canonical_smiles(smiles_200, monkeypatch):
    t = CHMRTransformer().fit(smiles_200[:5])
    calls = []
    original = EmbeddingEngine.compute

    def counting(self, smiles):
        calls.append(list(smiles))
        return original(self, smiles)

    monkeypatch.setattr(EmbeddingEngine, "compute", counting)
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
    assert loaded.cache_info().n_molecules == 0
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


def test_pretrain_options_reach_the_config_and_bad_keys_are_refused(data_home, wehi_smiles):
    from chmr_sklearn.pretrain import RECIPES

    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    profiles = {"morphology": morph.drop(columns=["broad_id", "pert_iname", "inchikey"]).iloc[:, :60]}
    X = list(morph["smiles"][:60]) + wehi_smiles[:60]
    options = {k: v for k, v in RECIPES["new"].items() if k not in ("lr", "batch_size")}
    t = CHMRTransformer(pretrained=None, max_epochs=1, batch_size=32, random_state=0,
                        pretrain_options=options).fit(X, profiles=profiles)
    for key, value in options.items():
        assert getattr(t.config_, key) == value
    assert t.config_.batch_size == 32 and np.isfinite(t.transform(X[:4])).all()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['profiled_per_btch'\]"):
        CHMRTransformer(pretrained=None, pretrain_options={"profiled_per_btch": 8}).fit(X, profiles=profiles)
    with pytest.raises(ValueError, match=r"parameters of CHMRTransformer: set them with set_params"):
        CHMRTransformer(pretrained=None, pretrain_options={"lr": 1e-2}).fit(X, profiles=profiles)


def test_an_encoder_without_3d_embeds_1d_2d_latents_consistently(data_home, wehi_smiles, tmp_path, monkeypatch):
    """conformer_method="none" (the "fast" recipe): no z3d columns, anchor = z1d + z2d, and the rows
    agree alone, batched, in workers, from the disk cache and after unpickling."""
    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    profiles = {"morphology": morph.drop(columns=["broad_id", "pert_iname", "inchikey"]).iloc[:, :60]}
    X = list(morph["smiles"][:60]) + wehi_smiles[:60]
    t = CHMRTransformer(pretrained=None, max_epochs=1, batch_size=32, random_state=0, n_jobs=1,
                        pretrain_options={"conformer_method": "none", "gin_dim": 16, "latent_dim": 24,
                                          "tree_depth": 3}).fit(X, profiles=profiles)
    names = t.get_feature_names_out()
    assert len(names) == 1191 + 48 and names[-1] == "z2d_23" and not any(n.startswith("z3d") for n in names)
    emb = t.transform(wehi_smiles[:200])
    assert emb.shape == (200, 1239) and np.isfinite(emb).all()
    anchor = t.set_params(output="anchor").transform(wehi_smiles[:200])
    np.testing.assert_array_equal(anchor, emb[:, 1191:1215] + emb[:, 1215:])
    assert t.set_params(output="latents").transform(X[:2]).shape == (2, 48)
    assert t.tree_codes(X[:3]).shape == (3, 3)
    t.set_params(output="concat")
    assert_consistent(t.transform(wehi_smiles[5:6]), emb[5:6])
    t.set_params(cache=False, cache_dir=str(tmp_path)).transform(wehi_smiles[:200])  # computed, stored on disk
    with monkeypatch.context() as patch:
        patch.setattr(EmbeddingEngine, "compute", lambda *a: pytest.fail("not read from the disk cache"))
        assert_consistent(t.transform(wehi_smiles[:200]), emb)
    t.set_params(cache_dir=None)
    assert_consistent(pickle.loads(pickle.dumps(t)).transform(wehi_smiles[:200]), emb)
    monkeypatch.setattr(_engine, "_MIN_FORKED", 16)  # worker processes for 200 molecules
    monkeypatch.setattr(_engine, "_MIN_PARALLEL", 16)
    monkeypatch.setattr(_engine, "_COLD_FACTOR", 1)
    assert_consistent(t.set_params(n_jobs=2).transform(wehi_smiles[:200]), emb)


def test_an_encoder_with_a_lean_3d_block_featurizes_with_its_own_settings(data_home, wehi_smiles):
    """conformer_descriptors / conformer_force_tol (the "lean" recipe) are part of the encoder: a
    transformer built on it featurizes with them, at fit and after unpickling, and keys its cache on them."""
    from chmr_sklearn._inputs import to_smiles
    from chmr_sklearn.featurize.molecular import featurize_molecular

    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    profiles = {"morphology": morph.drop(columns=["broad_id", "pert_iname", "inchikey"]).iloc[:, :60]}
    X = list(morph["smiles"][:60]) + wehi_smiles[:60]
    lean = {"conformer_descriptors": ["usr", "shape"], "conformer_force_tol": 1e-2}
    t = CHMRTransformer(pretrained=None, max_epochs=1, batch_size=32, random_state=0, n_jobs=1, precision="float64",
                        pretrain_options={**lean, "gin_dim": 16, "latent_dim": 24, "tree_depth": 3}
                        ).fit(X, profiles=profiles)
    assert t.model_.projectors["3d"].in_dim == 12 + 11
    emb = t.set_params(output="latents").transform(wehi_smiles[:50])
    canonical = [to_smiles(s) for s in wehi_smiles[:50]]  # what the transformer featurizes
    feats, _ = featurize_molecular(canonical, **lean, scaler=t.scaler_, random_state=0)
    with torch.no_grad():
        z = t.model_.eval().double().encode(**feats.torch_batch(np.arange(50)))
    want = torch.cat([z[k] for k in t.model_.molecular_modalities], dim=1).numpy()
    assert_consistent(emb, want)
    settings = t._engine().settings()
    assert settings["conformer_descriptors"] == ["usr", "shape"] and settings["conformer_force_tol"] == 1e-2
    assert_consistent(pickle.loads(pickle.dumps(t)).transform(wehi_smiles[:50]), emb)


def test_float32_default_is_close_to_exact_float64(smiles_200):
    X = smiles_200[:40]
    exact = CHMRTransformer(precision="float64").fit(X).transform(X)
    fast = CHMRTransformer().fit(X).transform(X)
    np.testing.assert_array_equal(fast[:, :1191], exact[:, :1191])
    assert_consistent(fast, exact, tol=1e-5)
    codes = CHMRTransformer().fit(X).tree_codes(X)
    assert (codes == CHMRTransformer(precision="float64").fit(X).tree_codes(X)).mean() > 0.95
    with pytest.raises(ValueError, match="precision"):
        CHMRTransformer(precision="float16").fit(X)


# ---- issue 14 / 15 / 18: engine consistency, random_state, threads, bounded cache ---------------

def test_float32_embedding_agrees_alone_batched_cached_unpickled_and_across_n_jobs(smiles_200, tmp_path,
                                                                                 monkeypatch):
    X = smiles_200[:48]
    batched = CHMRTransformer(n_jobs=1).fit(X).transform(X)
    alone = np.concatenate([CHMRTransformer(n_jobs=1).fit(X).transform([s]) for s in X[:6]])
    assert_consistent(alone, batched[:6])
    # n_jobs=2: featurize + encode inside 2 worker processes, 6 tasks of 8 molecules
    monkeypatch.setattr(_engine, "_MIN_FORKED", 1)
    monkeypatch.setattr(_engine, "_MIN_PARALLEL", 1)
    monkeypatch.setattr(_engine, "_TASK_SIZE", 8)
    calls = []
    monkeypatch.setattr(_engine.EmbeddingEngine, "_compute_here",
                        lambda self, smiles, n_jobs=1: calls.append(len(smiles)))  # must not run here
    parallel = CHMRTransformer(n_jobs=2, cache_dir=tmp_path).fit(X)
    workers = parallel.transform(X)
    assert calls == []
    assert_consistent(workers, batched)
    monkeypatch.undo()
    from_disk = CHMRTransformer(n_jobs=1, cache_dir=tmp_path).fit(X)
    monkeypatch.setattr(_engine.EmbeddingEngine, "compute", lambda self, smiles: pytest.fail("recomputed"))
    np.testing.assert_array_equal(from_disk.transform(X), workers)  # the disk cache returns stored bits
    monkeypatch.undo()
    unpickled = pickle.loads(pickle.dumps(CHMRTransformer(n_jobs=1).fit(X)))
    assert_consistent(unpickled.transform(X[::-1]), batched[::-1])


def test_precision_is_part_of_the_disk_cache_key(smiles_200, tmp_path):
    X = smiles_200[:6]
    f32 = CHMRTransformer(cache_dir=tmp_path).fit(X)
    f64 = CHMRTransformer(cache_dir=tmp_path, precision="float64").fit(X)
    assert f32._engine().settings()["precision"] == "float32"
    assert f64._engine().settings()["precision"] == "float64"
    a, b = f32.transform(X), f64.transform(X)
    import sqlite3

    with sqlite3.connect(tmp_path / "chmr_embeddings.sqlite") as db:
        per_namespace = db.execute("SELECT COUNT(*) FROM embeddings GROUP BY namespace").fetchall()
    assert sorted(per_namespace) == [(6,), (6,)]  # two namespaces, neither read the other's rows
    assert_consistent(a, b)
    assert not np.array_equal(a[:, 1191:], b[:, 1191:])  # really computed in each precision


def test_random_state_instance_is_drawn_once_per_fit(smiles_200):
    X = smiles_200[:4]
    t = CHMRTransformer(random_state=np.random.RandomState(7), cache=False).fit(X)
    seed = t.conformer_seed_
    first, second = t.transform(X), t.transform(X)
    np.testing.assert_array_equal(first, second)  # the same conformers on every call
    assert t.conformer_seed_ == seed
    t.fit(X)  # a new fit draws again from the same generator (check_random_state semantics)
    assert t.conformer_seed_ != seed
    same = CHMRTransformer(random_state=np.random.RandomState(7), cache=False).fit(X)
    assert same.conformer_seed_ == seed
    assert CHMRTransformer(random_state=3).fit(X).conformer_seed_ == 3
    assert CHMRTransformer().fit(X).conformer_seed_ == 0


def test_transform_is_thread_safe_and_leaves_the_estimator_unchanged(smiles_200):
    from concurrent.futures import ThreadPoolExecutor

    X = smiles_200[:40]
    reference = CHMRTransformer(n_jobs=1, precision="float64").fit(X).transform(X)
    shared = CHMRTransformer(n_jobs=1, precision="float64").fit(X)
    before = {k: id(v) for k, v in vars(shared).items()}
    params = shared.get_params()
    slices = [slice(0, 25), slice(15, 40), slice(5, 35), slice(0, 40)] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: (s, shared.transform(X[s])), slices))
    for s, out in results:
        np.testing.assert_array_equal(out, reference[s])  # float64: bit for bit in any thread
    assert {k: id(v) for k, v in vars(shared).items()} == before  # no attribute set or replaced
    assert shared.get_params() == params
    info = shared.cache_info()
    assert info.n_molecules == 40 and info.hits + info.misses == sum(s.stop - s.start for s in slices)


def test_threads_may_fork_workers_while_others_compute_in_process(smiles_200, monkeypatch):
    # Large calls fork workers, small ones compute here; a fork waits for the in-process work
    # of other threads (a lock held inside RDKit at the fork would never be released in the child).
    from concurrent.futures import ThreadPoolExecutor

    from chmr_sklearn import _workers

    X = smiles_200[:120]
    reference = CHMRTransformer(n_jobs=1, precision="float64").fit(X).transform(X)
    monkeypatch.setattr(_engine, "_MIN_FORKED", 40)
    forks = []
    monkeypatch.setattr(_engine, "forked_map", lambda *a: forks.append(1) or _workers.forked_map(*a))
    shared = CHMRTransformer(n_jobs=2, precision="float64", cache=False).fit(X)
    slices = [slice(0, 120), slice(0, 10), slice(50, 100), slice(100, 110), slice(7, 9), slice(10, 120)] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: (s, shared.transform(X[s])), slices))
    for s, out in results:
        np.testing.assert_array_equal(out, reference[s])
    assert len(forks) == 6  # the three large slices, twice; the small ones stayed here


def test_in_memory_cache_is_an_lru_bounded_in_bytes(smiles_200):
    X = smiles_200[:20]
    row_bytes = 2091 * 4
    t = CHMRTransformer(cache_size=6 * row_bytes / 2**20).fit(X)  # room for ~5 rows
    t.transform(X)
    info = t.cache_info()
    assert info.maxsize == int(6 * row_bytes) and 0 < info.currsize <= info.maxsize
    assert 1 <= info.n_molecules <= 5
    t.transform(X[-2:])  # the most recent molecules are still held
    assert t.cache_info().hits == 2
    t.transform(X[:2])  # the oldest were evicted
    assert t.cache_info().hits == 2 and t.cache_info().misses == 22
    off = CHMRTransformer(cache_size=0).fit(X)
    off.transform(X[:3])
    assert off.cache_info().n_molecules == 0 and off.cache_info().currsize == 0
    with pytest.raises(ValueError, match="cache_size"):
        CHMRTransformer(cache_size=-1).fit(X)


def test_unpickling_without_the_saved_device_warns_once(smiles_200, monkeypatch):
    import warnings


    t = CHMRTransformer(device="cpu").fit(smiles_200[:3])
    t.device = "cuda"  # as if saved on a GPU machine with device="cuda"
    blob = pickle.dumps(t)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(blob)
        loaded.transform(smiles_200[:3])
    messages = [str(w.message) for w in caught if "device" in str(w.message)]
    assert len(messages) == 1 and "cuda" in messages[0]
    assert loaded.device_.type == "cpu"


def test_a_fresh_process_embeds_without_heavy_imports():
    # Start-up (issue 14): embedding needs neither the heads (skorch) nor torch's compiler stack,
    # which deterministic mode used to import at the first transform (~2.6 s), nor the
    # pretraining corpus and trainer (loading a checkpoint needs only its reader).
    import subprocess
    import sys

    heavy = ("skorch", "torch._inductor", "torch._dynamo", "chmr_sklearn.pretrain.corpus",
             "chmr_sklearn.pretrain.trainer", "chmr_sklearn.profiles")
    code = ("import sys; from chmr_sklearn import CHMRTransformer; "
            "e = CHMRTransformer().fit_transform(['CCO']); "
            f"print(e.shape, sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "(1, 2091) []"


def test_a_worker_process_imports_neither_scikit_learn_nor_pandas(smiles_200, tmp_path):
    # Worker start-up is paid on a process's first large transform: each worker imports what
    # unpickling its task needs. scikit-learn (+ SciPy) and pandas cost ~1 s of that and the
    # worker runs none of them. The worker's rows are the in-process rows (within float32's
    # tolerance: the worker computes on one torch thread).
    import subprocess
    import sys

    from chmr_sklearn.estimators._engine import _WorkerTask

    engine = CHMRTransformer().fit(smiles_200[:3])._engine()
    task = _WorkerTask(engine._blob(), engine.precision, engine.encode_batch(), engine.scaler,
                       engine._feature_settings())
    (tmp_path / "task.pkl").write_bytes(pickle.dumps((task, smiles_200[:8])))
    code = ("import pickle, sys; import numpy as np; task, X = pickle.load(open(sys.argv[1], 'rb')); "
            "bits, latents = task(X); np.save(sys.argv[2], latents); "
            "print(sorted(m for m in ('sklearn', 'scipy', 'pandas', 'skorch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "task.pkl"), str(tmp_path / "z.npy")],
                         capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]"
    _, here = engine._compute_here(smiles_200[:8])
    assert_consistent(np.load(tmp_path / "z.npy"), here)


def test_scatter_is_bit_reproducible_and_encoding_agrees_across_torch_thread_counts(smiles_200):
    # Why inference needs no deterministic mode: the GNN's scatter (index_add) gives the same bits
    # with 1 or 2 intra-op threads, and the whole encoder agrees within the float32 tolerance
    # (its matrix products may round differently by thread count: MKL's AVX2 sgemm does).
    from chmr_sklearn.featurize.molecular import featurize_molecular
    from chmr_sklearn.nn import scatter_sum

    t = CHMRTransformer().fit(smiles_200[:64])
    feats, _ = featurize_molecular(smiles_200[:64], **t.config_.featurization(), scaler=t.scaler_)
    batch = feats.torch_batch(np.arange(64))
    graph = batch["graph"]
    dst = graph["edge_index"][1]
    messages = torch.randn(len(dst), 300, generator=torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    try:
        sums, outs = [], []
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            sums.append(scatter_sum(messages, dst, int(graph["x"].shape[0])))
            with torch.no_grad():
                z = t.model_.encode(**batch)
            outs.append(torch.cat([z[m] for m in ("1d", "2d", "3d")], dim=1).numpy())
    finally:
        torch.set_num_threads(before)
    assert not torch.are_deterministic_algorithms_enabled()
    assert len(dst) > 1000 and torch.equal(sums[0], sums[1]) and torch.equal(sums[0], sums[2])
    np.testing.assert_array_equal(outs[0], outs[2])  # same thread count, same bits
    assert_consistent(outs[1], outs[0])


def test_loading_the_pretrained_model_leaves_the_global_rng_alone(smiles_200):

    before = torch.get_rng_state()
    CHMRTransformer().fit(smiles_200[:3]).transform(smiles_200[:3])
    assert torch.equal(torch.get_rng_state(), before)


def test_forked_workers_start_from_a_hundred_molecules(smiles_200, monkeypatch):
    # On Linux the workers are forked per call (milliseconds), so ~100 molecules already pay;
    # canonicalizing, a tenth of the work, forks from ten times as many.
    X = smiles_200[:20]
    expected = CHMRTransformer(n_jobs=1).fit(X).transform(X)
    tasks = []

    def serial_forked_map(work, args, workers):  # forked_map stand-in: the tasks run here, in order
        tasks.append((workers, list(args)))
        return [work(*a) for a in args]

    monkeypatch.setattr(_engine, "can_fork", lambda: True)
    monkeypatch.setattr(_engine, "forked_map", serial_forked_map)
    monkeypatch.setattr(_engine, "_MIN_FORKED", 30)
    CHMRTransformer(n_jobs=2).fit(X).transform(X)  # 20 < 30: all in this process
    assert tasks == []
    monkeypatch.setattr(_engine, "_MIN_FORKED", 10)
    got = CHMRTransformer(n_jobs=2).fit(X).transform(X)
    # canonical SMILES in this process (20 < 10 / 0.1); the rows in 2 tasks per worker
    assert tasks == [(2, [(0, 5), (5, 10), (10, 15), (15, 20)])]
    assert_consistent(got, expected)
    tasks.clear()
    monkeypatch.setattr(_engine, "_MIN_FORKED", 2)
    CHMRTransformer(n_jobs=2).fit(X).transform(X)
    assert [len(args) for _, args in tasks] == [4, 4]  # canonical SMILES too (20 >= 2 / 0.1)


def test_joblib_workers_only_when_they_pay_off(smiles_200, monkeypatch):
    # Where the workers cannot be forked (or under another joblib backend): small inputs stay
    # in this process; a cold pool (workers to start: seconds) needs 4x more.
    import joblib

    X = smiles_200[:20]
    expected = CHMRTransformer(n_jobs=1).fit(X).transform(X)
    tasks = []

    def serial_parallel(n_jobs, **_):  # joblib.Parallel stand-in: runs the worker tasks here, in order
        def run(calls):
            calls = list(calls)
            tasks.append((n_jobs, len(calls)))
            return [func(*args, **kwargs) for func, args, kwargs in calls]
        return run

    monkeypatch.setattr(_engine, "can_fork", lambda: False)
    monkeypatch.setattr(joblib, "Parallel", serial_parallel)
    monkeypatch.setattr(_engine, "_MIN_PARALLEL", 10)
    monkeypatch.setattr(_engine, "_TASK_SIZE", 8)
    monkeypatch.setattr(_engine, "_pool_running", lambda: False)
    CHMRTransformer(n_jobs=2).fit(X).transform(X)  # 20 < 4 x 10: no workers started
    assert tasks == []
    monkeypatch.setattr(_engine, "_pool_running", lambda: True)
    got = CHMRTransformer(n_jobs=2).fit(X).transform(X)
    # canonical SMILES in 4 tasks of 5 (2 per worker), then the rows likewise
    assert tasks == [(2, 4), (2, 4)]
    assert_consistent(got, expected)
    tasks.clear()
    monkeypatch.setattr(_engine, "_pool_running", lambda: False)
    monkeypatch.setattr(_engine, "_MIN_PARALLEL", 5)
    got = CHMRTransformer(n_jobs=2).fit(X).transform(X)
    # 20 >= 4 x 5: a cold pool starts for the canonical SMILES already, not only for the rows
    assert tasks == [(2, 4), (2, 4)]
    assert_consistent(got, expected)


def test_default_n_jobs_follows_torch_threads(monkeypatch):
    import joblib

    from chmr_sklearn.estimators._engine import effective_workers

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert effective_workers(None) == 2 and effective_workers(1) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 64)
    assert effective_workers(None) == 8  # capped: every worker holds its own torch + encoder
    with joblib.parallel_config(n_jobs=3):
        assert effective_workers(None) == 3


def test_cpu_inference_takes_cache_sized_batches(smiles_200):
    # batch_size is pretraining's (512); on CPU the encoder takes at most 64 molecules per
    # forward pass (2.3x faster there), and the result does not depend on that choice.
    big = CHMRTransformer(batch_size=512).fit(smiles_200)
    assert big._engine().encode_batch() == 64
    small = CHMRTransformer(batch_size=8).fit(smiles_200)
    assert small._engine().encode_batch() == 8
    assert_consistent(small.transform(smiles_200[:40]), big.transform(smiles_200[:40]))
