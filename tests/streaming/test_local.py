"""embed_file: every format equals transform, chunk boundaries, invalid rows, resume, bounded chunks."""

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.base import clone

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.estimators import _engine as engine_module
from chmr_sklearn.streaming import InvalidRowsError, embed_file

N_EMB = 2091


@pytest.fixture(scope="module")
def mols(smiles_200):
    """12 real molecules, one repeated (rows 3 and 11) to cross chunk boundaries."""
    X = list(smiles_200[150:161])
    return X[:10] + [X[2]] + X[10:]


@pytest.fixture(scope="module")
def fitted(mols, tmp_path_factory):
    # The disk cache makes every later embed_file call of this module reuse the first
    # computation (streaming itself never keeps rows in memory).
    t = CHMRTransformer(cache_dir=tmp_path_factory.mktemp("cache")).fit(mols)
    return t, t.transform(mols), t.tree_codes(mols)


@pytest.fixture(scope="module")
def table(mols):
    return pd.DataFrame({"id": [f"id{i:03d}" for i in range(len(mols))], "smiles": mols,
                         "value": [f"{i * 0.25:g}" for i in range(len(mols))]})


def _write(frame: pd.DataFrame, path):
    name = path.name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif ".smi" in name:
        text = "".join(f"{s} {i}\n" for s, i in zip(frame["smiles"], frame["id"]))
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    else:
        frame.to_csv(path, sep="\t" if ".tsv" in name else ",", index=False)
    return path


def _spy_embedding(monkeypatch, fail_at: int | None = None) -> list[int]:
    """Record the molecules of each chunk embed_file embeds; interrupt at call ``fail_at``."""
    calls = []
    original = engine_module.EmbeddingEngine.embed

    def spy(self, keys, **kw):
        calls.append(len(keys))
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        return original(self, keys, **kw)

    monkeypatch.setattr(engine_module.EmbeddingEngine, "embed", spy)
    return calls


def _embedding(out: pd.DataFrame, start: int) -> np.ndarray:
    return out.iloc[:, start : start + N_EMB].to_numpy(dtype=np.float32)


@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz", "in.tsv", "in.smi", "in.smi.gz", "in.parquet"])
def test_every_input_format_equals_transform(name, fitted, table, tmp_path):
    t, expected, _ = fitted
    src = _write(table, tmp_path / name)
    summary = embed_file(t, src, tmp_path / "out.parquet", chunk_size=5)
    assert (summary.n_rows, summary.n_chunks, summary.n_invalid, summary.n_chunks_skipped) == (12, 3, 0, 0)
    out = pd.read_parquet(tmp_path / "out.parquet")
    if ".smi" in name:
        assert list(out.columns[:2]) == ["smiles", "name"] and list(out["name"]) == list(table["id"])
    else:
        assert list(out.columns[:3]) == ["id", "smiles", "value"]
        assert list(out["value"]) == list(table["value"])  # copied as written
    start = out.columns.get_loc("morgan_0")
    assert list(out.columns[start:]) == list(t.get_feature_names_out())
    assert list(out["smiles"]) == list(table["smiles"])
    assert _embedding(out, start).tobytes() == expected.tobytes()
    assert not (tmp_path / "out.parquet.parts").exists()


@pytest.mark.parametrize("chunk_size", [4, 12, 100])
def test_chunk_boundaries_and_csv_output(chunk_size, fitted, table, tmp_path):
    t, expected, codes = fitted
    src = _write(table, tmp_path / "in.csv")
    summary = embed_file(t, src, tmp_path / "out.csv", chunk_size=chunk_size, codes=True)
    assert summary.n_chunks == -(-12 // chunk_size) and summary.n_rows == 12
    out = pd.read_csv(tmp_path / "out.csv", dtype={"id": str, "value": str})
    assert list(out["id"]) == list(table["id"]) and list(out["value"]) == list(table["value"])
    np.testing.assert_array_equal(_embedding(out, 3), expected)  # CSV text round-trips float32 exactly
    np.testing.assert_array_equal(out.filter(like="tree_code_").to_numpy(), codes)


def test_invalid_rows_raise_with_file_row_numbers_then_nan_resumes(fitted, table, tmp_path):
    t, expected, codes = fitted
    bad = table.copy()
    bad.loc[5, "smiles"] = "not_a_molecule"  # data row 6, in the 2nd chunk of 4
    bad.loc[10, "smiles"] = ""  # data row 11, in the 3rd chunk
    src, out = _write(bad, tmp_path / "in.csv"), tmp_path / "out.parquet"
    with pytest.raises(InvalidRowsError) as info:
        embed_file(t, src, out, chunk_size=4, codes=True)
    assert info.value.rows == [6, 11]
    assert "row(s) 6, 11" in str(info.value) and "not_a_molecule" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not out.exists(), "no output that looks complete"
    assert sorted(p.name for p in (tmp_path / "out.parquet.parts").glob("part-*")) == ["part-00000-000000.parquet"]

    lenient = clone(t).set_params(on_invalid="nan").fit(["CCO"])
    summary = embed_file(lenient, src, out, chunk_size=4, codes=True)
    assert (summary.n_rows, summary.n_invalid, summary.n_chunks_skipped) == (12, 2, 1)
    got = pd.read_parquet(out)
    emb = _embedding(got, 3)
    assert len(got) == 12 and list(got["id"]) == list(table["id"])
    assert np.isnan(emb[[5, 10]]).all()
    keep = np.setdiff1d(np.arange(12), [5, 10])
    assert emb[keep].tobytes() == expected[keep].tobytes()
    tree = got.filter(like="tree_code_").to_numpy()
    assert (tree[[5, 10]] == -1).all() and (tree[keep] == codes[keep]).all()


def test_resume_skips_finished_chunks_and_matches_an_uninterrupted_run(fitted, table, tmp_path, monkeypatch):
    t, _, _ = fitted
    src = _write(table, tmp_path / "in.parquet")
    embed_file(t, src, tmp_path / "reference.parquet", chunk_size=5)

    calls = _spy_embedding(monkeypatch, fail_at=2)  # the job is killed while embedding the 2nd chunk
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        embed_file(t, src, out, chunk_size=5)
    assert not out.exists() and (out.parent / "out.parquet.parts" / "part-00000-000000.parquet").is_file()

    calls = _spy_embedding(monkeypatch)
    summary = embed_file(t, src, out, chunk_size=5)
    assert summary.n_chunks_skipped == 1 and calls == [5, 2]  # only the unfinished chunks were embedded
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "reference.parquet"))


def test_a_mismatching_manifest_is_never_reused(fitted, table, tmp_path, monkeypatch):
    t, _, _ = fitted
    src, out = _write(table, tmp_path / "in.csv"), tmp_path / "out.parquet"
    _spy_embedding(monkeypatch, fail_at=1)
    with pytest.raises(KeyboardInterrupt):
        embed_file(t, src, out, chunk_size=5)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="chunk_size"):
        embed_file(t, src, out, chunk_size=4)
    with pytest.raises(ValueError, match="embedding.precision"):
        embed_file(clone(t).set_params(precision="float64").fit(["CCO"]), src, out, chunk_size=5)
    with pytest.raises(ValueError, match="output"):
        embed_file(clone(t).set_params(output="anchor").fit(["CCO"]), src, out, chunk_size=5)
    _write(table.iloc[::-1], src)  # the input changed
    with pytest.raises(ValueError, match="input") as info:
        embed_file(t, src, out, chunk_size=5)
    assert "resume=False" in str(info.value)
    summary = embed_file(t, src, out, chunk_size=5, resume=False)
    assert summary.n_chunks_skipped == 0 and list(pd.read_parquet(out)["id"]) == list(table["id"][::-1])


def test_bad_arguments_give_clear_errors(fitted, table, tmp_path):
    t, _, _ = fitted
    src = _write(table, tmp_path / "in.csv")
    with pytest.raises(ValueError, match="no column 'SMILES'"):
        embed_file(t, src, tmp_path / "o.parquet", smiles_col="SMILES")
    with pytest.raises(ValueError, match=r"\.parquet, \.csv, .* or a directory"):
        embed_file(t, src, tmp_path / "o.xlsx")
    with pytest.raises(ValueError, match="Cannot read"):
        embed_file(t, _write(table, tmp_path / "in.json"), tmp_path / "o.parquet")
    with pytest.raises(ValueError, match="chunk_size"):
        embed_file(t, src, tmp_path / "o.parquet", chunk_size=0)
    (tmp_path / "empty.csv").write_text("smiles,id\n")
    with pytest.raises(ValueError, match="0 molecules"):
        embed_file(t, tmp_path / "empty.csv", tmp_path / "o.parquet")
    clash = table.assign(morgan_0="x")
    with pytest.raises(ValueError, match="morgan_0"):
        embed_file(t, _write(clash, tmp_path / "clash.csv"), tmp_path / "o.parquet")


def test_streaming_featurizes_one_chunk_at_a_time_and_keeps_nothing(fitted, mols, tmp_path, monkeypatch):
    # Bounded memory, checked structurally: no call ever featurizes more than one chunk, and the
    # transformer's in-memory cache stays empty (it would grow with the file).
    _, expected, _ = fitted
    X = mols[:5] + mols[:2]  # 5 molecules, 2 repeated in the last chunks
    sizes = []
    original = engine_module.featurize_molecular

    def recording(smiles, **kw):
        sizes.append(len(smiles))
        return original(smiles, **kw)

    monkeypatch.setattr(engine_module, "featurize_molecular", recording)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"smiles": X}), src)
    cached = CHMRTransformer(precision="float64", n_jobs=1).fit(X)  # in-memory cache on: streaming must not fill it
    embed_file(cached, src, tmp_path / "out.parquet", chunk_size=3)
    assert sizes == [3, 3, 1]  # one call per chunk of rows (no memory of earlier chunks)
    assert cached.cache_info().n_molecules == 0
    out = pd.read_parquet(tmp_path / "out.parquet").iloc[:, 1:].to_numpy(dtype=np.float32)
    reference = CHMRTransformer(precision="float64", cache=False).fit(X).transform(X)
    assert out.tobytes() == reference.tobytes()  # float64: independent of how rows are chunked


def test_a_scheduler_without_dask_installed_names_the_extra(fitted, table, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "chmr_sklearn.streaming._dask", raising=False)
    src, out = _write(table, tmp_path / "in.csv"), tmp_path / "out.parquet"
    with pytest.raises(ImportError, match=r"pip install 'chmr_sklearn\[dask\]'"):
        embed_file(fitted[0], src, out, scheduler="tcp://127.0.0.1:8786")
    assert not (tmp_path / "out.parquet.parts").exists()


def test_a_model_with_a_residual_forest_hashes_the_same_in_every_load(mols, tmp_path):
    # A forest's pickled node records carry uninitialised padding: hashing them made two loads
    # of one model file look like two models, so `chmr predict` refused to resume its own run.
    import joblib

    from chmr_sklearn import CHMRRegressor
    from chmr_sklearn.featurize import FingerprintFeaturizer
    from chmr_sklearn.streaming._jobs import estimator_sha256

    X = FingerprintFeaturizer().fit_transform(mols[:60])
    y = X[:, :20].sum(axis=1)
    est = CHMRRegressor("passthrough", rf_residual=True, rf_n_estimators=10, hidden=16, max_epochs=2,
                        random_state=0).fit(X, y)
    joblib.dump(est, tmp_path / "model.joblib")
    first, second = (joblib.load(tmp_path / "model.joblib") for _ in range(2))
    assert estimator_sha256(first) == estimator_sha256(second) == estimator_sha256(est)
    other = clone(est).set_params(random_state=1).fit(X, y)  # another forest: another hash
    assert estimator_sha256(other) != estimator_sha256(est)
