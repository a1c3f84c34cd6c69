"""One streaming run: inputs -> manifest -> chunks (here or on a cluster) -> output."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

from ._files import InputFile, check_same_columns, expand_inputs, file_sha256, open_input
from ._jobs import ChunkResult, _Job
from ._parts import DONE, MANIFEST, assemble, atomic_write_text, output_kind, part_path, prepare, work_dir

_MANIFEST_VERSION = 2
_SHOWN = 20  # invalid entries quoted in the error (every row number is listed)


@dataclass
class EmbedSummary:
    """What :func:`embed_file` or :func:`predict_file` did.

    Attributes
    ----------
    n_rows : int
        Rows written (equal to the input's rows).
    n_invalid : int
        Rows whose molecule did not parse (NaN outputs, tree code -1).
    n_chunks : int
        Chunks of ``chunk_size`` rows the inputs were split into (one per file at least).
    n_chunks_skipped : int
        Chunks found finished by an earlier, interrupted run and not recomputed.
    seconds : float
        Wall time of the call.
    output_path : Path
        The file (or directory of Parquet parts) written.
    n_files : int
        Input files.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from chmr_sklearn import CHMRTransformer
    >>> from chmr_sklearn.streaming import embed_file
    >>> enc = CHMRTransformer(output="anchor", on_invalid="nan").fit(["CCO"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "mols.csv").write_text("id,smiles\\na,CCO\\nb,xyz\\nc,c1ccccc1O\\n")
    ...     summary = embed_file(enc, Path(tmp, "mols.csv"), Path(tmp, "emb.csv"))
    ...     print(pd.read_csv(summary.output_path).shape)
    (3, 302)
    >>> summary.n_rows, summary.n_invalid, summary.n_chunks, summary.n_chunks_skipped
    (3, 1, 1, 0)
    """

    n_rows: int
    n_invalid: int
    n_chunks: int
    n_chunks_skipped: int
    seconds: float
    output_path: Path
    n_files: int = 1


class InvalidRowsError(ValueError):
    """Some rows of the input file(s) hold no valid molecule (``on_invalid="raise"``).

    Attributes
    ----------
    rows : list of int
        1-based row numbers of **every** invalid row, counting data rows (a header line is not
        counted), of the one file that holds them; with invalid rows in several input files,
        those of the first such file (all are in ``rows_by_file``).
    rows_by_file : dict of Path to list of int
        Every input file with invalid rows, in input order, and their 1-based row numbers.

    Examples
    --------
    >>> import tempfile
    >>> from chmr_sklearn import CHMRTransformer
    >>> from chmr_sklearn.streaming import embed_file
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "mols.csv").write_text("id,smiles\\na,CCO\\nb,xyz\\nc,c1ccccc1O\\n")
    ...     try:
    ...         embed_file(CHMRTransformer().fit(["CCO"]), Path(tmp, "mols.csv"), Path(tmp, "emb.csv"))
    ...     except InvalidRowsError as err:
    ...         print(err.rows, isinstance(err, ValueError))
    [2] True
    """

    def __init__(self, bad_by_file: dict[Path, dict[int, str]], smiles_col: str, note: str):
        self.rows_by_file = {path: sorted(bad) for path, bad in bad_by_file.items()}
        self.entries = {path: dict(sorted(bad.items())) for path, bad in bad_by_file.items()}
        self.rows = next(iter(self.rows_by_file.values()))
        parts = []
        for path, rows in self.rows_by_file.items():
            quoted = ", ".join(f"{r}: {v!r}" for r, v in list(self.entries[path].items())[:_SHOWN])
            parts.append(f"{len(rows)} invalid molecule(s) in {path} (column {smiles_col!r}) at row(s) "
                         f"{', '.join(map(str, rows))} (first entries: {quoted})")
        super().__init__("; ".join(parts) + f" (1-based data rows, header not counted). {note}")


def check_chunk_size(chunk_size) -> None:
    if not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")


def log(verbose: int, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)


def run(job: _Job, inputs, output_path, *, smiles_col: str, chunk_size: int, resume: bool, verbose: int,
        scheduler=None) -> EmbedSummary:
    """Stream ``inputs`` through ``job`` into ``output_path``, here or on a Dask cluster."""
    check_chunk_size(chunk_size)
    if scheduler is not None:
        from ._dask import run_on_cluster  # before any file is touched: a missing dask fails first
    started = time.perf_counter()
    output_path = Path(output_path)
    kind = output_kind(output_path)
    files = [open_input(p, smiles_col) for p in expand_inputs(inputs)]
    check_same_columns(files)
    clash = sorted(set(files[0].columns) & set(job.names))
    if clash:
        raise ValueError(f"Input columns {clash} have the names of output columns; rename them.")
    work = work_dir(output_path)
    manifest = {
        "version": _MANIFEST_VERSION,
        "inputs": [{"size": f.path.stat().st_size, "sha256": file_sha256(f.path)} for f in files],
        "smiles_col": smiles_col,
        "chunk_size": int(chunk_size),
        **job.manifest(),
    }
    if kind == "" and (work / DONE).is_file():
        (work / DONE).unlink()  # rerunning: the folder is complete again only when this run is
    prepare(work, manifest, resume)
    if scheduler is None:
        from ._local import run_here

        results = run_here(job, files, work, chunk_size, verbose)
    else:
        results = run_on_cluster(job, files, work, chunk_size, verbose, scheduler)
    return _finish(results, files, work, output_path, kind, smiles_col, started)


def _finish(results: list[ChunkResult], files: list[InputFile], work: Path, output_path: Path, kind: str,
            smiles_col: str, started: float) -> EmbedSummary:
    results = sorted(results, key=lambda r: (r.file_index, r.chunk))
    n_rows = sum(r.n_rows for r in results)
    if n_rows == 0:
        shutil.rmtree(work)
        where = files[0].path if len(files) == 1 else f"the {len(files)} input files"
        raise ValueError(f"Found 0 molecules in {where} (empty input); at least one is required.")
    bad: dict[Path, dict[int, str]] = {}
    for r in results:
        if r.bad:
            bad.setdefault(files[r.file_index].path, {}).update(r.bad)
    if bad:
        note = (f"Nothing was written to {output_path}; the chunks finished without invalid rows are kept in "
                f"{work} and a rerun with on_invalid='nan' reuses them.")
        raise InvalidRowsError(bad, smiles_col, note)
    parts = [part_path(work, r.file_index, r.chunk) for r in results]
    summary = EmbedSummary(n_rows, sum(r.n_invalid for r in results), len(results),
                           sum(r.skipped for r in results), 0.0, output_path, len(files))
    if kind:
        assemble(parts, output_path)
        shutil.rmtree(work)
    else:
        atomic_write_text(work / DONE, f"{summary.n_rows} rows in {len(parts)} parts; manifest: {MANIFEST}\n")
    summary.seconds = time.perf_counter() - started
    return summary
