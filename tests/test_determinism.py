"""Reproducibility: same random_state -> bit-identical results on CPU, across fits, fresh
processes, n_jobs and pickles; a model saved from another device loads on CPU.

Not repeated here (covered elsewhere): two in-process pretraining fits
(tests/estimators/test_transformer.py), in-process head refits on embeddings and joblib round
trips (test_classifier.py / test_regressor.py), a real CUDA model loaded on CPU (test_device.py,
GPU machines only) and the pickle-bomb checkpoint (tests/pretrain).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
import torch.serialization

import chmr_sklearn
from chmr_sklearn import CHMRClassifier, CHMRRegressor, CHMRTransformer
from chmr_sklearn.datasets import load_bbbp, load_cmea_paired, load_wehi_molecules
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL

PACKAGE_ROOT = str(Path(chmr_sklearn.__file__).resolve().parents[1])  # the code under test
HEAD = {"max_epochs": 2, "hidden": 32, "batch_size": 16, "patience": None, "device": "cpu"}
PRETRAIN = {"pretrained": None, "max_epochs": 1, "batch_size": 8, "device": "cpu"}


def _data():
    """Real molecules and labels (BBBP), real cell-painting profiles (CMEA)."""
    X, y = load_bbbp(return_X_y=True, drop_invalid=True)
    X, y = X.iloc[::90].tolist()[:20], y.iloc[::90].to_numpy()[:20]
    cmea = load_cmea_paired()
    profile = cmea.cell_painting[["smiles", *cmea.cell_painting_features[:16]]].iloc[:16]
    return X, y, profile


def _compute(X, y, profile, seed: int, cache_dir) -> dict[str, np.ndarray]:
    """The results that must be bit-identical wherever they are computed."""
    # heads share the embeddings through the on-disk cache: each molecule is embedded once
    transformer = CHMRTransformer(device="cpu", cache_dir=cache_dir)
    embedding = transformer.fit(X).transform(X)
    pretrained = CHMRTransformer(random_state=seed, **PRETRAIN).fit(
        profile["smiles"].tolist(), profiles={"morphology": profile})
    reg_y = np.log1p(np.arange(len(X), dtype=float)) % 1.7  # any real-valued target will do
    return {
        "embedding": embedding,
        "pretrained_embedding": pretrained.transform(X[:8]),
        "proba": CHMRClassifier(transformer, random_state=seed, **HEAD).fit(X, y).predict_proba(X),
        "regression": CHMRRegressor(transformer, random_state=seed, **HEAD).fit(X, reg_y).predict(X),
    }


# The same code in a fresh interpreter, which also loads the parent's joblib pickle.
_CHILD = textwrap.dedent("""
    import sys, joblib, numpy as np, torch
    torch.set_num_threads(int(sys.argv[1]))
    sys.path.insert(0, sys.argv[2])
    import test_determinism as td
    X, y, profile = td._data()
    out = td._compute(X, y, profile, seed=0, cache_dir=sys.argv[5])
    out["unpickled"] = joblib.load(sys.argv[3]).predict_proba(X)
    np.savez(sys.argv[4], **out)
""")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny workloads: on a shared machine extra threads only contend
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Fit once here, pickle, then compute the same in a fresh process running alongside."""
    tmp = tmp_path_factory.mktemp("determinism")
    X, y, profile = _data()
    clf = CHMRClassifier(CHMRTransformer(device="cpu", cache_dir=tmp / "parent"), random_state=0, **HEAD).fit(X, y)
    joblib.dump(clf, tmp / "clf.joblib")
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, "1", str(Path(__file__).parent),
                              str(tmp / "clf.joblib"), str(tmp / "child.npz"), str(tmp / "child")],
                             env=env, cwd=tmp)
    try:
        here = _compute(X, y, profile, seed=0, cache_dir=tmp / "parent")
        here["first_fit"] = clf.predict_proba(X)
        child.wait(timeout=300)
    finally:
        child.kill()
    assert child.returncode == 0
    return X, y, profile, here, dict(np.load(tmp / "child.npz")), tmp / "parent"


def test_same_seed_is_bit_identical_across_fits_and_processes(results):
    *_, here, child, _ = results
    np.testing.assert_array_equal(here["proba"], here["first_fit"])  # two fits in one process
    for key in ("embedding", "pretrained_embedding", "proba", "regression"):
        np.testing.assert_array_equal(child[key], here[key], err_msg=key)  # a fresh process
    np.testing.assert_array_equal(child["unpickled"], here["proba"])  # pickled, loaded there


def test_different_seed_changes_the_results(results):
    X, y, profile, here, _, cache_dir = results
    other = _compute(X, y, profile, seed=1, cache_dir=cache_dir)
    np.testing.assert_array_equal(other["embedding"], here["embedding"])  # the shipped model has no seed
    for key in ("pretrained_embedding", "proba", "regression"):
        value = other[key]
        assert not np.allclose(value, here[key]), key  # so the comparisons above can fail


def _check_n_jobs(results):
    _, y, _, here, *_ = results
    wehi = load_wehi_molecules().data.tolist()
    batch = wehi[:66:2] + ["not a smiles", None] + wehi[1:66:2]  # > 64 rows: two chunks
    one = CHMRTransformer(on_invalid="nan", cache=False, device="cpu").fit(batch).transform(batch)
    two = CHMRTransformer(on_invalid="nan", cache=False, device="cpu", n_jobs=2).fit(batch).transform(batch)
    np.testing.assert_array_equal(one, two)
    assert np.isnan(two[33:35]).all() and not np.isnan(two[[32, 35]]).any()
    # the head's forest is the other n_jobs user
    E = here["embedding"]
    kwargs = dict(HEAD, rf_residual=True, rf_n_estimators=20, random_state=0)
    a = CHMRClassifier("passthrough", n_jobs=1, **kwargs).fit(E, y).predict_proba(E)
    b = CHMRClassifier("passthrough", n_jobs=2, **kwargs).fit(E, y).predict_proba(E)
    np.testing.assert_array_equal(a, b)


def test_n_jobs_does_not_change_embeddings_or_predictions(results):
    # Threads run the same chunking and merging as worker processes without their start-up
    # cost; process workers are exercised by the featurizer tests and by the slow test below.
    with joblib.parallel_config(backend="threading"):
        _check_n_jobs(results)


@pytest.mark.slow
def test_n_jobs_with_worker_processes(results):
    _check_n_jobs(results)


def _tag_as_cuda(monkeypatch):
    """Make torch.save record every tensor as living on cuda:0, as on a GPU machine."""
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates GPU-saved files on a machine without CUDA")
def test_checkpoint_saved_on_gpu_loads_on_cpu_with_weights_only(results, tmp_path, monkeypatch):
    X, _, _, here, *_ = results
    real_load = torch.load
    gpu_path = tmp_path / "gpu.pt"
    with monkeypatch.context() as m:
        _tag_as_cuda(m)
        torch.save(real_load(DEFAULT_MODEL, map_location="cpu", weights_only=True), gpu_path)
    with pytest.raises(RuntimeError, match="CUDA"):  # the simulation is real: naive loading fails
        real_load(gpu_path, weights_only=True)
    calls = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    got = CHMRTransformer(pretrained=str(gpu_path), device="cpu").fit(X).transform(X)
    np.testing.assert_array_equal(got, here["embedding"])
    assert calls and all(k.get("weights_only") is True and str(k.get("map_location")) == "cpu" for k in calls)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates GPU-saved files on a machine without CUDA")
def test_pickled_gpu_models_predict_on_cpu(results, monkeypatch):
    X, y, _, here, *_ = results
    E = here["embedding"]
    head = CHMRClassifier("passthrough", random_state=0, **HEAD).fit(E, y)
    expected = head.predict_proba(E)
    with monkeypatch.context() as m:
        _tag_as_cuda(m)  # skorch stores the head with torch.save: its tensors now claim cuda:0
        head.device = head.net_.device = "cuda"
        blob = io.BytesIO()
        joblib.dump(head, blob)
    # the transformer pickles its encoder on CPU (__getstate__) after it was used on a GPU
    transformer = CHMRTransformer(device="cpu").fit(X)
    transformer.device, transformer.device_ = "cuda", torch.device("cuda")
    blob_t = io.BytesIO()
    joblib.dump(transformer, blob_t)
    blob.seek(0)
    blob_t.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch: "no CUDA, loading on cpu"
        head2, transformer2 = joblib.load(blob), joblib.load(blob_t)
    assert next(head2.net_.module_.parameters()).device.type == "cpu"
    assert transformer2.device_.type == "cpu"
    np.testing.assert_array_equal(head2.predict_proba(E), expected)
    np.testing.assert_array_equal(transformer2.transform(X), E)
