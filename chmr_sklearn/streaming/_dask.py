"""The cluster path: chunks as tasks on a Dask ``distributed`` cluster.

The client locates every chunk (:func:`~._files.plan_pieces`: one pass over each file's bytes
or Parquet metadata, no parsing), skips those whose part is already written, and submits the
rest, one task per chunk; a gzip file cannot be read from the middle, so it is one task that
streams its chunks in order. Each task reads its rows from the (shared) file system, computes
and writes its part, and returns only counts and invalid rows, so no table passes through the
client or the scheduler.

The model travels once: the job is pickled on the client and registered as a worker plugin,
which unpickles it once per worker process (also on workers that join or restart later); every
task on that worker uses the same instance, found by the payload's hash.
"""

from __future__ import annotations

import hashlib
import pickle
import time
import uuid
from collections import Counter
from pathlib import Path

try:
    from distributed import Client, WorkerPlugin, as_completed, get_worker
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError(
        "Running on a Dask cluster needs dask and distributed: pip install 'chmr_sklearn[dask]' "
        f"(dask[dataframe], distributed, pyarrow). ({err})"
    ) from err

from ._files import InputFile, Piece, iter_chunks, plan_pieces, read_piece
from ._jobs import ChunkResult, _Job, process_chunk
from ._parts import part_counts, part_path
from ._run import log

_JOBS: dict[str, _Job] = {}  # model hash -> the job, in this worker process
_LOADS: Counter = Counter()  # model hash -> times unpickled in this process (for tests and logs)
_RETRIES = 2  # a task whose worker dies is rerun by the scheduler anyway; these cover other failures


class ModelPlugin(WorkerPlugin):
    """Unpickles a job once per worker process, at set-up, under the hash of its pickle."""

    def __init__(self, key: str, payload: bytes):
        self.key, self.payload = key, payload

    def setup(self, worker=None) -> None:
        _load(self.key, self.payload)

    def teardown(self, worker=None) -> None:
        _JOBS.pop(self.key, None)


def _load(key: str, payload: bytes) -> _Job:
    job = _JOBS.get(key)
    if job is None:
        job = _JOBS[key] = pickle.loads(payload)  # noqa: S301 - our own payload, from the client
        _LOADS[key] += 1
    return job


def _job(key: str, plugin: str) -> _Job:
    job = _JOBS.get(key)
    if job is None:  # the plugin's set-up has not run on this worker (yet), or another run's teardown
        job = _load(key, get_worker().plugins[plugin].payload)  # removed it: load from this run's plugin
    return job


def load_counts() -> dict[str, int]:
    """Times each model was unpickled in this worker process (``client.run(load_counts)``)."""
    return dict(_LOADS)


def _run_piece(key: str, plugin: str, f: InputFile, piece: Piece, work: str) -> list[ChunkResult]:
    job = _job(key, plugin)
    table = read_piece(f, piece)
    part = part_path(Path(work), piece.file_index, piece.chunk)
    return [process_chunk(job, table, f.smiles_col, part, piece.file_index, piece.chunk, piece.first_row)]


def _run_file(key: str, plugin: str, f: InputFile, file_index: int, chunk_size: int,
              work: str) -> list[ChunkResult]:
    job, results, failed = _job(key, plugin), [], False
    for k, table in enumerate(iter_chunks(f, chunk_size)):
        part = part_path(Path(work), file_index, k)
        results.append(process_chunk(job, table, f.smiles_col, part, file_index, k, k * chunk_size, scan_only=failed))
        failed = failed or bool(results[-1].bad)
    return results


def _finished(job: _Job, piece: Piece, work: Path) -> ChunkResult | None:
    """The result of a chunk whose part an earlier run wrote, else None (it must be computed)."""
    part = part_path(work, piece.file_index, piece.chunk)
    if not part.is_file():
        return None
    n_rows, n_invalid = part_counts(part, job.names[0])
    if n_rows != piece.n_rows or (job.strict and n_invalid):
        return None  # the task recomputes it (and reports the mismatch or the invalid rows)
    return ChunkResult(piece.file_index, piece.chunk, n_rows, n_invalid, skipped=True)


def _client(scheduler) -> tuple[Client, bool]:
    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise TypeError(f"scheduler must be None, a distributed.Client or a scheduler address, got {scheduler!r}.")


def run_on_cluster(job: _Job, files: list[InputFile], work: Path, chunk_size: int, verbose: int,
                   scheduler) -> list[ChunkResult]:
    """Every chunk of every file as Dask tasks; results in no particular order."""
    client, own = _client(scheduler)
    try:
        return _run(client, job, files, work, chunk_size, verbose)
    finally:
        if own:
            client.close()


def _run(client: Client, job: _Job, files: list[InputFile], work: Path, chunk_size: int,
         verbose: int) -> list[ChunkResult]:
    work = work.resolve()
    files = [InputFile(f.path.resolve(), f.kind, f.gz, f.columns, f.smiles_col, f.header) for f in files]
    results: list[ChunkResult] = []
    tasks = []  # (function, args) still to run
    for i, f in enumerate(files):
        if not f.seekable:
            tasks.append((_run_file, (f, i, chunk_size, str(work))))
            continue
        for piece in plan_pieces(f, i, chunk_size):
            done = _finished(job, piece, work)
            if done is None:
                tasks.append((_run_piece, (f, piece, str(work))))
            else:
                results.append(done)
    log(verbose, f"{len(results)} chunk(s) already done; {len(tasks)} task(s) to run on {client.scheduler.address}")
    if not tasks:
        return results
    payload = pickle.dumps(job.for_cluster(), protocol=pickle.HIGHEST_PROTOCOL)
    key = hashlib.sha256(payload).hexdigest()
    name = f"chmr-streaming-{key[:16]}-{uuid.uuid4().hex[:8]}"  # one per run, even for the same model
    futures = []
    try:
        client.register_plugin(ModelPlugin(key, payload), name=name)
        futures = [client.submit(func, key, name, *args, pure=False, retries=_RETRIES, priority=-n)
                   for n, (func, args) in enumerate(tasks)]
        started = time.perf_counter()
        for done, future in enumerate(as_completed(futures), start=1):
            chunk_results = future.result()
            future.release()  # the worker may forget it: a lost worker then reruns nothing done
            results += chunk_results
            rows = sum(r.n_rows for r in chunk_results)
            log(verbose, f"task {done}/{len(tasks)}: {rows} rows, {time.perf_counter() - started:.0f} s")
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise
    finally:
        try:
            client.unregister_worker_plugin(name)
        except Exception:  # noqa: BLE001 - a lost cluster must not hide the real error
            pass
    return results
