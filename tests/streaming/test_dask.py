"""The Dask path: a 2-process LocalCluster gives the single-process rows, loads the model once per
worker, reports invalid rows by file and row, and resumes after a killed worker or client.

One cluster serves the module (starting one costs seconds). Files: ``a.csv`` (30 real molecules;
rows 11-20 invalid, so with ``chunk_size=10`` one partition holds only invalid molecules),
``b.csv`` (a header only: an empty partition) and ``c.csv.gz`` (12 molecules, row 7 invalid; a
gzip file is one task that streams its chunks).
"""

import gzip
import os
import sys
import time

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

distributed = pytest.importorskip("distributed")  # the test extra installs it

from chmr_sklearn import CHMRRegressor, CHMRTransformer  # noqa: E402
from chmr_sklearn.cli import main  # noqa: E402
from chmr_sklearn.streaming import InvalidRowsError, _dask, embed_file, predict_file  # noqa: E402

# The sabotage helpers below run inside the workers: ship them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CHUNK = 10
INVALID_A = list(range(11, 21))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def inputs(smiles_200, tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    mols = list(smiles_200[:42])
    a = pd.DataFrame({"id": [f"a{i:03d}" for i in range(30)], "smiles": mols[:30]})
    a.loc[10:19, "smiles"] = [f"not_a_molecule_{i}" for i in range(10)]  # data rows 11-20
    a.to_csv(folder / "a.csv", index=False)
    (folder / "b.csv").write_text("id,smiles\n")
    c = pd.DataFrame({"id": [f"c{i:03d}" for i in range(12)], "smiles": mols[30:42]})
    c.loc[6, "smiles"] = "C1CC"  # data row 7
    (folder / "c.csv.gz").write_bytes(gzip.compress(c.to_csv(index=False).encode()))
    return [folder / "a.csv", folder / "b.csv", folder / "c.csv.gz"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def reference(inputs, cache_dir, tmp_path_factory):
    """The single-process output (float64 encoder); it also fills the disk cache later tests read."""
    out = tmp_path_factory.mktemp("reference") / "emb.parquet"
    t = CHMRTransformer(precision="float64", on_invalid="nan", n_jobs=1, cache_dir=cache_dir).fit(["C"])
    summary = embed_file(t, inputs, out, codes=True, chunk_size=CHUNK)
    assert (summary.n_rows, summary.n_invalid, summary.n_chunks, summary.n_files) == (42, 11, 6, 3)
    return pq.read_table(out)


def _same(got, expected) -> bool:
    """Same schema, text and bytes (NaN rows included, which Table.equals counts as different)."""
    a, b = got.to_pandas(), expected.to_pandas()
    if got.schema != expected.schema or len(a) != len(b):
        return False
    numbers = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c])]
    text = [c for c in a.columns if c not in numbers]
    floats = [c for c in numbers if c.startswith(("morgan", "maccs", "z"))]
    assert len(text) == 2 and len(floats) == 2091  # the comparison below covers every column
    return (a[text].equals(b[text]) and a[floats].to_numpy().tobytes() == b[floats].to_numpy().tobytes()
            and a[numbers].drop(columns=floats).equals(b[numbers].drop(columns=floats)))


def _loads(client) -> dict:
    return {worker: sum(counts.values()) for worker, counts in client.run(_dask.load_counts).items()}


def test_cluster_equals_single_process_bit_for_bit_and_loads_the_model_once(client, inputs, reference, tmp_path):
    before = _loads(client)
    t = CHMRTransformer(precision="float64", on_invalid="nan").fit(["C"])  # no cache: really computed
    out = tmp_path / "emb.parquet"
    summary = embed_file(t, inputs, out, codes=True, chunk_size=CHUNK, scheduler=client)
    assert (summary.n_rows, summary.n_invalid, summary.n_chunks, summary.n_chunks_skipped) == (42, 11, 6, 0)
    got = pq.read_table(out)
    assert got.schema == reference.schema
    assert _same(got, reference)  # same rows, same order, same bytes (float64 encoder)
    frame = got.to_pandas()
    assert frame["id"].tolist() == [f"a{i:03d}" for i in range(30)] + [f"c{i:03d}" for i in range(12)]
    invalid = np.flatnonzero(frame["morgan_0"].isna())
    assert invalid.tolist() == [*range(10, 20), 36]
    assert (frame.loc[invalid, "tree_code_5"] == -1).all()
    # 5 tasks (a.csv: 3 chunks, b.csv: 1, c.csv.gz: 1) on 2 workers, one unpickling per worker
    after = _loads(client)
    assert {w: after[w] - before.get(w, 0) for w in after} == {w: 1 for w in after}


def test_invalid_rows_are_listed_by_file_and_row_then_a_nan_run_reuses_the_parts(client, inputs, reference,
                                                                                  cache_dir, tmp_path):
    strict = CHMRTransformer(precision="float64", n_jobs=1, cache_dir=cache_dir).fit(["C"])
    out = tmp_path / "emb.parquet"
    with pytest.raises(InvalidRowsError) as info:
        embed_file(strict, inputs, out, codes=True, chunk_size=CHUNK, scheduler=client)
    assert info.value.rows_by_file == {inputs[0].resolve(): INVALID_A, inputs[2].resolve(): [7]}
    assert info.value.rows == INVALID_A
    assert "not_a_molecule_0" in str(info.value) and "'C1CC'" in str(info.value)
    assert not out.exists()
    parts = sorted(p.name for p in (tmp_path / "emb.parquet.parts").glob("part-*.parquet"))
    # a.csv's valid chunks, b.csv's empty one; c.csv.gz stops writing at its first invalid chunk
    assert parts == ["part-00000-000000.parquet", "part-00000-000002.parquet", "part-00001-000000.parquet"]

    lenient = CHMRTransformer(precision="float64", on_invalid="nan", cache_dir=cache_dir).fit(["C"])
    summary = embed_file(lenient, inputs, out, codes=True, chunk_size=CHUNK, scheduler=client.scheduler.address)
    assert summary.n_chunks_skipped == 3
    assert _same(pq.read_table(out), reference)


# ---- sabotage, run inside the workers --------------------------------------------------------
def _sabotage(chunk: tuple, mode: str, marker: str) -> None:
    """Make the task of ``chunk`` kill its worker process once (``"kill"``) or always fail (``"fail"``)."""
    from chmr_sklearn.streaming import _dask as module

    original = getattr(module, "_original_process_chunk", module.process_chunk)
    module._original_process_chunk = original

    def wrapped(job, table, smiles_col, part, file_index, chunk_index, *args, **kwargs):
        if (file_index, chunk_index) == chunk:
            if mode == "kill" and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            if mode == "fail":
                raise RuntimeError("injected failure")
        return original(job, table, smiles_col, part, file_index, chunk_index, *args, **kwargs)

    module.process_chunk = wrapped


def _restore() -> None:
    from chmr_sklearn.streaming import _dask as module

    module.process_chunk = getattr(module, "_original_process_chunk", module.process_chunk)


def _executing(dask_worker) -> int:
    return dask_worker.state.executing_count


def _wait_idle(client, timeout: float = 60) -> None:
    """Until no worker runs a task (a cancelled task still runs to its end, writing its part)."""
    deadline = time.monotonic() + timeout
    while any(client.run(_executing).values()) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.slow  # restarts a worker process and runs three times (~20-40 s)
def test_a_killed_worker_and_an_interrupted_client_resume(client, inputs, reference, cache_dir, tmp_path):
    t = CHMRTransformer(precision="float64", on_invalid="nan", cache_dir=cache_dir).fit(["C"])
    marker = tmp_path / "killed"
    client.run(_sabotage, (0, 2), "kill", str(marker))
    try:
        out = tmp_path / "emb"  # a directory: the parts are the output
        summary = embed_file(t, inputs, out, codes=True, chunk_size=CHUNK, scheduler=client)
    finally:
        client.run(_restore)
    assert marker.exists(), "the worker running chunk 3 of a.csv was killed"
    assert summary.n_rows == 42 and (out / "_SUCCESS").is_file()
    assert _same(pq.read_table(out), reference)  # the parts, in name order

    client.run(_sabotage, (0, 2), "fail", "")
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            embed_file(t, inputs, tmp_path / "emb2.parquet", codes=True, chunk_size=CHUNK, scheduler=client)
    finally:
        client.run(_restore)
    _wait_idle(client)
    written = len(list((tmp_path / "emb2.parquet.parts").glob("part-*.parquet")))
    assert 1 <= written < 6 and not (tmp_path / "emb2.parquet").exists()
    summary = embed_file(t, inputs, tmp_path / "emb2.parquet", codes=True, chunk_size=CHUNK, scheduler=client)
    assert summary.n_chunks_skipped == written
    assert _same(pq.read_table(tmp_path / "emb2.parquet"), reference)


def test_predict_and_the_cli_on_the_cluster(client, inputs, smiles_200, cache_dir, tmp_path, capsys):
    X = list(smiles_200[:10]) + list(smiles_200[20:30])  # a.csv's valid molecules: in the (float64) disk cache
    model = CHMRRegressor(CHMRTransformer(output="anchor", precision="float64", cache_dir=cache_dir), max_epochs=2,
                         random_state=0, on_invalid="nan", n_jobs=1).fit(X, np.linspace(0, 1, len(X)))
    here = predict_file(model, inputs, tmp_path / "here.csv", chunk_size=CHUNK)
    there = predict_file(model, inputs, tmp_path / "there.csv", chunk_size=CHUNK, scheduler=client)
    assert (there.n_rows, there.n_invalid, there.n_chunks) == (here.n_rows, here.n_invalid, here.n_chunks) == (42, 11, 6)
    a = pd.read_csv(tmp_path / "here.csv", dtype={"id": str})
    b = pd.read_csv(tmp_path / "there.csv", dtype={"id": str})
    assert a[["id", "smiles"]].equals(b[["id", "smiles"]]) and a["target_pred"].isna().sum() == 11
    # the head runs in float32 (with another thread count on the workers): float32 tolerance
    np.testing.assert_allclose(b["target_pred"], a["target_pred"], rtol=1e-5)

    import joblib

    joblib.dump(model, tmp_path / "model.joblib")
    pattern = str(inputs[0].parent / "*.csv")  # a.csv and b.csv
    assert main(["predict", str(tmp_path / "model.joblib"), pattern, "-o", str(tmp_path / "cli.parquet"),
                 "--scheduler", client.scheduler.address, "--on-invalid", "nan", "--chunk-size", str(CHUNK),
                 "-q"]) == 0
    assert "wrote 30 row(s)" in capsys.readouterr().out
    cli = pd.read_parquet(tmp_path / "cli.parquet")
    np.testing.assert_allclose(cli["target_pred"], a["target_pred"][:30], rtol=1e-5)
