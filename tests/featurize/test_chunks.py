"""map_chunks: chunks in order, in forked workers on Linux, joblib's elsewhere or when asked."""

from __future__ import annotations

import subprocess
import sys

import joblib
import numpy as np
import pytest

from chmr_sklearn.featurize import _chunks
from chmr_sklearn.featurize.molecular import featurize_molecular

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


@pytest.fixture
def forks(monkeypatch) -> list:
    """Counts the calls that fork workers."""
    calls: list = []
    real = _chunks.forked_imap
    monkeypatch.setattr(_chunks, "forked_imap", lambda *a: calls.append(len(a[1])) or real(*a))
    return calls


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.fp, b.fp)
    np.testing.assert_array_equal(a.conf, b.conf)
    np.testing.assert_array_equal(a.valid, b.valid)
    for x, y in zip(a.graphs, b.graphs, strict=True):
        assert (x is None and y is None) or all(np.array_equal(getattr(x, f), getattr(y, f))
                                                for f in ("x", "edge_index", "edge_attr"))


def test_chunks_come_back_in_input_order():
    values = np.arange(1000, dtype=object)
    out = _chunks.map_chunks(lambda chunk: chunk.sum(), values, n_jobs=2)
    bounds = _chunks._chunk_bounds(1000, 2)
    assert len(out) == len(bounds) > 2
    assert out == [sum(range(a, b)) for a, b in bounds]


@linux_only
def test_workers_are_forked_and_give_the_rows_of_one_process(smiles_200, forks):
    mols = smiles_200[:150] + ["not a smiles", "C"]
    one, scaler = featurize_molecular(mols, n_jobs=1)
    assert forks == []
    two, _ = featurize_molecular(mols, n_jobs=2, scaler=scaler)
    assert forks == [len(_chunks._chunk_bounds(len(mols), 2))]  # one call, every chunk in the workers
    _same(one, two)


def test_another_joblib_backend_is_honoured(smiles_200, forks):
    mols = smiles_200[:150]
    one, scaler = featurize_molecular(mols, n_jobs=1)
    with joblib.parallel_config(backend="threading"):
        threads, _ = featurize_molecular(mols, n_jobs=2, scaler=scaler)
    assert forks == []
    _same(one, threads)


@linux_only
def test_a_featurization_process_never_loads_torch():
    """Forked featurization workers set torch's threads only where the parent had loaded torch."""
    code = ("import sys; from rdkit import RDConfig; import os, pandas as pd; "
            "from chmr_sklearn.featurize import GraphFeaturizer; "
            "smi = pd.read_csv(os.path.join(RDConfig.RDDataDir, 'Pains/test_data/wehi_mols.csv'), header=None)[0]; "
            "X = GraphFeaturizer(n_jobs=2).fit_transform(list(smi[:300])); "
            "print(len(X), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["300", "False"]
