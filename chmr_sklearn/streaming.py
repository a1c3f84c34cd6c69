"""Embed a whole molecule file, chunk by chunk, with bounded memory and resumable progress.

:func:`embed_file` reads ``chunk_size`` rows at a time (CSV / TSV / SMILES files, optionally
gzip-compressed, or Parquet), embeds them with a fitted
:class:`~chmr_sklearn.CHMRTransformer` and writes each finished chunk as its own Parquet
*part* in ``OUTPUT.parts/``, next to a ``manifest.json`` that identifies the run (input
content hash, chunk size, output settings and everything that changes the numbers). When
the last chunk is done the parts are copied, one row group at a time, into the output
(Parquet or CSV), which appears atomically; then the parts are removed.

Why parts and not one growing file: a Parquet file is only readable once its footer is
written, so an interrupted writer leaves nothing to resume from; a part is renamed into
place only when complete, so after an interruption (Ctrl-C, a killed job) a rerun skips
every finished chunk. A run whose manifest differs (other input, model or settings) never
reuses the parts: it stops with an error, and ``resume=False`` starts over.

Memory is independent of the number of rows: one input chunk, its embedding and one row
group are held at a time, and the transformer's in-memory cache is not used here (its
persistent ``cache_dir``, when set, is).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.utils.validation import check_is_fitted

from ._inputs import to_mol

__all__ = ["EmbedSummary", "InvalidRowsError", "embed_file"]

_TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_SMILES_SUFFIXES = (".smi", ".txt")
_MANIFEST_VERSION = 1
_SHOWN = 20  # invalid entries quoted in the error (every row number is listed)


@dataclass
class EmbedSummary:
    """What :func:`embed_file` did.

    Attributes
    ----------
    n_rows : int
        Rows written (equal to the input's rows).
    n_invalid : int
        Rows whose molecule did not parse (NaN embedding, tree code -1).
    n_chunks : int
        Chunks of ``chunk_size`` rows the input was split into.
    n_chunks_skipped : int
        Chunks found finished by an earlier, interrupted run and not recomputed.
    seconds : float
        Wall time of the call.
    output_path : Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from chmr_sklearn import CHMRTransformer
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


class InvalidRowsError(ValueError):
    """Some rows of an input file hold no valid molecule (``on_invalid="raise"``).

    Attributes
    ----------
    rows : list of int
        1-based row numbers of **every** invalid row in the file, counting data rows (a
        header line is not counted).

    Examples
    --------
    >>> import tempfile
    >>> from chmr_sklearn import CHMRTransformer
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "mols.csv").write_text("id,smiles\\na,CCO\\nb,xyz\\nc,c1ccccc1O\\n")
    ...     try:
    ...         embed_file(CHMRTransformer().fit(["CCO"]), Path(tmp, "mols.csv"), Path(tmp, "emb.csv"))
    ...     except InvalidRowsError as err:
    ...         print(err.rows, isinstance(err, ValueError))
    [2] True
    """

    def __init__(self, path: Path, smiles_col: str, rows: list[int], shown: dict[int, str], note: str):
        self.rows = rows
        quoted = ", ".join(f"{r}: {v!r}" for r, v in list(shown.items())[:_SHOWN])
        super().__init__(
            f"{len(rows)} invalid molecule(s) in {path} (column {smiles_col!r}) at row(s) "
            f"{', '.join(map(str, rows))} (1-based data rows, header not counted; first entries: {quoted}). "
            f"{note}"
        )


def embed_file(transformer, input_path, output_path, *, smiles_col: str = "smiles", codes: bool = False,
               chunk_size: int = 10_000, resume: bool = True, verbose: int = 0) -> EmbedSummary:
    """Embed every molecule of a file into a Parquet or CSV file, chunk by chunk.

    Parameters
    ----------
    transformer : CHMRTransformer
        A fitted transformer; its ``output``, ``on_invalid``, ``n_jobs``, ``device``,
        ``precision`` and ``cache_dir`` are used (its in-memory cache is not, to keep memory
        flat).
    input_path : str or Path
        ``.csv``, ``.tsv``, ``.smi`` or ``.txt`` (each optionally ``.gz``), or ``.parquet``.
        CSV/TSV need a header with ``smiles_col``; their columns are copied as text, exactly
        as written. A ``.smi``/``.txt`` line is ``SMILES [name ...]`` (whitespace-separated),
        read into the columns ``smiles_col`` and ``name``; a first line whose first field is
        ``smiles_col`` (any case) is a header.
    output_path : str or Path
        ``.parquet`` or ``.csv``. Every input column (the SMILES included) comes first, then
        the embedding columns (:meth:`CHMRTransformer.get_feature_names_out`), then, with
        ``codes``, ``tree_code_0 ...``. Written only when every chunk is done.
    smiles_col : str, default="smiles"
        Column holding the SMILES.
    codes : bool, default=False
        Also write the Tree-VQ codes (int64, -1 for invalid rows).
    chunk_size : int, default=10_000
        Rows read, embedded and written at a time; memory grows with it, not with the file.
    resume : bool, default=True
        Reuse the chunks finished by an earlier, interrupted run with the same manifest;
        ``False`` removes them and starts over.
    verbose : int, default=0
        1: one line per chunk on stderr; 2: also the featurizers' progress bars.

    Returns
    -------
    EmbedSummary

    Raises
    ------
    InvalidRowsError
        ``on_invalid="raise"`` and some rows are invalid: the message lists every one by its
        1-based row number in the file. The output is not written; chunks finished before the
        first invalid row are kept, and a rerun with ``on_invalid="nan"`` reuses them.
    ValueError
        Unknown file type, missing column, empty input, or ``OUTPUT.parts/`` left by a run with
        other settings (pass ``resume=False``).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> from chmr_sklearn import CHMRTransformer
    >>> from chmr_sklearn.streaming import embed_file
    >>> t = CHMRTransformer(output="anchor").fit(["CCO"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "in.smi").write_text("CCO ethanol\\nc1ccccc1O phenol\\nCCN\\n")
    ...     summary = embed_file(t, Path(d, "in.smi"), Path(d, "out.parquet"), chunk_size=2)
    ...     out = pd.read_parquet(Path(d, "out.parquet"))
    >>> summary.n_rows, summary.n_chunks, out.shape
    (3, 2, (3, 302))
    >>> list(out.columns[:3])
    ['smiles', 'name', 'anchor_0']
    """
    check_is_fitted(transformer, "model_")
    if not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    reader = _reader(input_path, smiles_col)
    out_format = output_path.suffix.lower()
    if out_format not in (".parquet", ".csv"):
        raise ValueError(f"Output must be a .parquet or .csv file, got {output_path.name!r}.")
    transformer._embedding_settings()  # hash the weights once, on the caller's instance
    worker = _streaming_worker(transformer, verbose)
    names = [str(n) for n in worker.get_feature_names_out()]
    if codes:
        if worker.model_.tree_vq is None:
            raise ValueError("This encoder was pretrained without Tree-VQ (use_tree_vq=False): no tree codes.")
        names += [f"tree_code_{h}" for h in range(worker.model_.tree_vq.n_levels)]

    work = output_path.with_name(output_path.name + ".parts")
    manifest = {
        "version": _MANIFEST_VERSION,
        "input": {"size": input_path.stat().st_size, "sha256": _file_sha256(input_path)},
        "smiles_col": smiles_col,
        "chunk_size": int(chunk_size),
        "output": worker.output,
        "codes": bool(codes),
        "embedding": worker._embedding_settings(),
    }
    _prepare(work, manifest, resume)

    n_rows = n_invalid = n_chunks = skipped = 0
    bad: dict[int, str] = {}  # 1-based row -> entry, once a row failed under on_invalid="raise"
    strict = worker.on_invalid == "raise"
    for k, table in enumerate(reader(chunk_size)):
        t0, offset = time.perf_counter(), n_rows
        n_chunks, n_rows = n_chunks + 1, n_rows + table.num_rows
        if k == 0:
            clash = sorted(set(table.column_names) & set(names))
            if clash:
                raise ValueError(f"Input columns {clash} have the names of output columns; rename them.")
        part = work / f"part-{k:06d}.parquet"
        entries = table.column(smiles_col).to_pylist()
        if bad:  # the output will not be written: only find the remaining invalid rows, fast
            bad.update(_invalid_entries(entries, offset))
            continue
        if part.is_file():
            done_rows, done_invalid = _part_counts(part, names[0])
            if done_rows != table.num_rows:
                raise ValueError(f"{part} holds {done_rows} rows where the input chunk has {table.num_rows}; "
                                 "pass resume=False to start over.")
            if not (strict and done_invalid):
                n_invalid += done_invalid
                skipped += 1
                _log(verbose, f"chunk {k + 1}: rows {offset + 1}-{n_rows} already done, skipped")
                continue
        keys = worker._keys(entries)
        valid = np.array([key is not None for key in keys], dtype=bool)
        if strict and not valid.all():
            bad.update(_invalid_entries(entries, offset))
            continue
        emb, tree = worker._embed_keys(keys, codes=codes)
        n_invalid += int((~valid).sum())
        _write_part(table, emb, tree, names, part)
        _log(verbose, f"chunk {k + 1}: rows {offset + 1}-{n_rows}, "
                      f"{table.num_rows / (time.perf_counter() - t0):,.0f} rows/s")
    if n_chunks == 0:
        shutil.rmtree(work)
        raise ValueError(f"Found 0 molecules in {input_path} (empty input); at least one is required.")
    if bad:
        note = (f"Nothing was written to {output_path}; the chunks finished before the first invalid row are kept "
                f"in {work} and a rerun with on_invalid='nan' reuses them.")
        raise InvalidRowsError(input_path, smiles_col, sorted(bad), bad, note)
    _assemble(work, n_chunks, output_path)
    shutil.rmtree(work)
    return EmbedSummary(n_rows, n_invalid, n_chunks, skipped, time.perf_counter() - started, output_path)


def _streaming_worker(transformer, verbose: int):
    """A view of ``transformer`` sharing its model, with the unbounded in-memory cache off."""
    # Not copy.copy: that goes through __getstate__, which drops the float64 encoder copy.
    clone = object.__new__(type(transformer))
    clone.__dict__.update(transformer.__dict__)
    clone.cache, clone._cache, clone._canon = False, {}, {}
    clone.verbose = transformer.verbose if verbose >= 2 else 0
    return clone


def _invalid_entries(entries: list, offset: int) -> dict[int, str]:
    return {offset + i + 1: e for i, e in enumerate(entries) if to_mol(e) is None}


def _log(verbose: int, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)


# ---- input ---------------------------------------------------------------------------------
def _reader(path: Path, smiles_col: str):
    """A function ``chunk_size -> iterator of pyarrow Tables`` for ``path``, after checking its header."""
    if not path.is_file():
        raise FileNotFoundError(f"No input file at {path}.")
    suffixes = [s.lower() for s in path.suffixes]
    gz = suffixes[-1:] == [".gz"]
    kind = suffixes[-2] if gz and len(suffixes) > 1 else suffixes[-1] if suffixes else ""
    if kind == ".parquet" and not gz:
        names = pq.ParquetFile(path).schema_arrow.names
        _check_column(path, smiles_col, names)
        return lambda size: _parquet_chunks(path, size)
    if kind in _TEXT_SEPARATORS:
        sep = _TEXT_SEPARATORS[kind]
        names = list(pd.read_csv(path, sep=sep, nrows=0, dtype=str).columns)
        _check_column(path, smiles_col, names)
        return lambda size: _text_chunks(path, sep, size)
    if kind in _SMILES_SUFFIXES:
        return lambda size: _smiles_chunks(path, smiles_col, gz, size)
    raise ValueError(f"Cannot read {path.name!r}: expected .csv, .tsv, .smi, .txt (optionally .gz) or .parquet.")


def _check_column(path: Path, smiles_col: str, names: list[str]) -> None:
    if smiles_col not in names:
        raise ValueError(f"{path} has no column {smiles_col!r}; its columns are {names[:20]}. "
                         "Pass smiles_col=<the column with SMILES>.")


def _text_chunks(path: Path, sep: str, size: int) -> Iterator[pa.Table]:
    # Every field as text: per-chunk type inference could type a column differently in two
    # chunks (an id that looks numeric for the first 10,000 rows), breaking one output schema.
    # Blank lines are kept as (invalid) rows so that row numbers match the file's lines.
    with pd.read_csv(path, sep=sep, dtype=str, na_filter=False, keep_default_na=False, skip_blank_lines=False,
                     chunksize=size) as chunks:
        for frame in chunks:
            if frame.empty:  # a header-only file yields one empty frame
                continue
            yield pa.table({c: pa.array(frame[c].to_numpy(dtype=object), type=pa.string()) for c in frame.columns})


def _smiles_chunks(path: Path, smiles_col: str, gz: bool, size: int) -> Iterator[pa.Table]:
    opener = gzip.open if gz else open
    smiles, names = [], []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            fields = line.rstrip("\r\n").split(None, 1)
            if number == 0 and fields and fields[0].lower() == smiles_col.lower():
                continue  # header line
            smiles.append(fields[0] if fields else "")
            names.append(fields[1].strip() if len(fields) > 1 else "")
            if len(smiles) == size:
                yield pa.table({smiles_col: pa.array(smiles, pa.string()), "name": pa.array(names, pa.string())})
                smiles, names = [], []
    if smiles:
        yield pa.table({smiles_col: pa.array(smiles, pa.string()), "name": pa.array(names, pa.string())})


def _parquet_chunks(path: Path, size: int) -> Iterator[pa.Table]:
    # iter_batches may cut at row-group boundaries; re-cut to exactly `size` rows so chunk k
    # always holds the same rows (resume depends on it).
    source = pq.ParquetFile(path)
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in source.iter_batches(batch_size=size):
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending, schema=source.schema_arrow)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=source.schema_arrow)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()  # hashlib.file_digest would need Python 3.11
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- parts and output ----------------------------------------------------------------------
def _prepare(work: Path, manifest: dict, resume: bool) -> None:
    """Create ``work`` with ``manifest``, or check that the one there describes this very run."""
    path = work / "manifest.json"
    if work.exists():
        if not path.is_file() and any(work.iterdir()):
            raise ValueError(f"{work} exists but holds no manifest.json: it was not written by embed_file. "
                             "Remove it or choose another output path.")
        if not resume:
            shutil.rmtree(work)
        elif path.is_file():
            try:
                old = json.loads(path.read_text())
            except ValueError:
                old = {}
            new = json.loads(json.dumps(manifest))
            if old != new:
                differs = sorted(
                    k for k in new.keys() | old.keys() if old.get(k) != new.get(k) and k != "embedding"
                ) + sorted(f"embedding.{k}" for k in new["embedding"]
                           if not isinstance(old.get("embedding"), dict) or old["embedding"].get(k) != new["embedding"][k])
                raise ValueError(
                    f"{work} holds chunks of another run (different {', '.join(differs)}); they are not reused. "
                    "Pass resume=False (chmr embed --no-resume) to start over, or remove the folder."
                )
    work.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        _atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True))


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_part(table: pa.Table, emb: np.ndarray, tree: np.ndarray | None, names: list[str], part: Path) -> None:
    columns = list(np.asfortranarray(emb).T)  # contiguous columns, no per-column copy
    if tree is not None:
        columns += list(np.asfortranarray(tree).T)
    # One from_arrays call: append_column would rebuild the table once per column (quadratic).
    table = pa.Table.from_arrays(table.columns + [pa.array(c) for c in columns], names=table.column_names + names)
    tmp = part.with_name(part.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, part)  # a part exists only once complete: resume trusts existence


def _part_counts(part: Path, first_embedding: str) -> tuple[int, int]:
    """Rows of a finished part, and its invalid rows (NaN embedding)."""
    column = pq.read_table(part, columns=[first_embedding]).column(0).to_numpy()
    return len(column), int(np.isnan(column).sum())


def _assemble(work: Path, n_chunks: int, output_path: Path) -> None:
    """Copy the parts into ``output_path`` one row group at a time; the file appears atomically."""
    tmp = output_path.with_name(output_path.name + ".tmp")
    writer = None
    try:
        for k in range(n_chunks):
            source = pq.ParquetFile(work / f"part-{k:06d}.parquet")
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                if writer is None:
                    writer = (pq.ParquetWriter(tmp, table.schema) if output_path.suffix.lower() == ".parquet"
                              else pacsv.CSVWriter(tmp, table.schema))
                writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, output_path)
