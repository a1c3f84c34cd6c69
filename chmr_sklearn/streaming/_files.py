"""Input files: kinds, headers, chunk readers, and the pieces a cluster reads in parallel.

A *chunk* is ``chunk_size`` consecutive data rows of one input file (the last one may be
shorter; an empty file has one empty chunk). Chunk ``k`` of file ``f`` always holds the same
rows whichever way it is read, so the single-process path (:func:`iter_chunks`, one pass over
the file) and the cluster path (:func:`plan_pieces` on the client, :func:`read_piece` on a
worker) write identical parts, and either can resume the other's run.
"""

from __future__ import annotations

import glob as _glob
import gzip
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_SMILES_SUFFIXES = (".smi", ".txt")
_SCAN_BLOCK = 1 << 24  # bytes read at a time when locating chunk boundaries


@dataclass(frozen=True)
class InputFile:
    """One input file: where, what kind, its columns."""

    path: Path
    kind: str  # ".csv", ".tsv", ".smi" / ".txt" or ".parquet"
    gz: bool
    columns: tuple[str, ...]
    smiles_col: str
    header: bool  # a text file's first line is a header (always for CSV/TSV)

    @property
    def seekable(self) -> bool:
        """Chunks can be read independently (not through a gzip stream)."""
        return not self.gz


@dataclass(frozen=True)
class Piece:
    """Chunk ``chunk`` of input ``file_index``: rows ``first_row .. first_row + n_rows - 1`` (0-based).

    ``start``/``stop`` are byte offsets for text files, row offsets for Parquet.
    """

    file_index: int
    chunk: int
    first_row: int
    n_rows: int
    start: int
    stop: int


def expand_inputs(inputs) -> list[Path]:
    """Paths from a path, a glob pattern (``*``, ``?``, ``[``) or a sequence of them, in order.

    A pattern expands to its matches sorted by name; a pattern that matches nothing is an error.
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise ValueError("No input files given.")
    paths: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(c in text for c in "*?[") and not Path(text).exists():
            matches = sorted(_glob.glob(os.path.expanduser(text)))
            if not matches:
                raise FileNotFoundError(f"No input file matches {text!r}.")
            paths += [Path(m) for m in matches]
        else:
            paths.append(Path(text))
    return paths


def read_columns(path, smiles_col: str = "smiles") -> tuple[str, ...]:
    """The columns a chunk of ``path`` has (a SMILES file: ``smiles_col`` and ``name``), from its header only."""
    return open_input(Path(path), smiles_col, check=False).columns


def open_input(path: Path, smiles_col: str, *, check: bool = True) -> InputFile:
    """Check ``path`` (exists, known kind, has ``smiles_col``) and read its header."""
    if not path.is_file():
        raise FileNotFoundError(f"No input file at {path}.")
    suffixes = [s.lower() for s in path.suffixes]
    gz = suffixes[-1:] == [".gz"]
    kind = suffixes[-2] if gz and len(suffixes) > 1 else suffixes[-1] if suffixes else ""
    if kind == ".parquet" and not gz:
        columns = tuple(pq.ParquetFile(path).schema_arrow.names)
        if check:
            _check_column(path, smiles_col, columns)
        return InputFile(path, kind, False, columns, smiles_col, False)
    if kind in _TEXT_SEPARATORS:
        columns = tuple(pd.read_csv(path, sep=_TEXT_SEPARATORS[kind], nrows=0, dtype=str).columns)
        if check:
            _check_column(path, smiles_col, columns)
        return InputFile(path, kind, gz, columns, smiles_col, True)
    if kind in _SMILES_SUFFIXES:
        opener = gzip.open if gz else open
        with opener(path, "rt", encoding="utf-8") as handle:
            first = handle.readline().split(None, 1)
        header = bool(first) and first[0].lower() == smiles_col.lower()
        return InputFile(path, kind, gz, (smiles_col, "name"), smiles_col, header)
    raise ValueError(f"Cannot read {path.name!r}: expected .csv, .tsv, .smi, .txt (optionally .gz) or .parquet.")


def check_same_columns(files: Sequence[InputFile]) -> None:
    """Several inputs go to one output: they need the same columns, all text or all Parquet."""
    first = files[0]
    for f in files[1:]:
        if f.columns != first.columns:
            raise ValueError(f"{f.path} has the columns {list(f.columns)[:20]}, {first.path} has "
                             f"{list(first.columns)[:20]}: every input file needs the same columns.")
        if (f.kind == ".parquet") != (first.kind == ".parquet"):
            raise ValueError(f"{f.path} and {first.path}: mix of Parquet and text inputs (their columns would "
                             "get different types); convert them to one format.")
        if f.kind == ".parquet" and pq.ParquetFile(f.path).schema_arrow != pq.ParquetFile(first.path).schema_arrow:
            raise ValueError(f"{f.path} and {first.path} have different Parquet column types.")


def _check_column(path: Path, smiles_col: str, names: Sequence[str]) -> None:
    if smiles_col not in names:
        raise ValueError(f"{path} has no column {smiles_col!r}; its columns are {list(names)[:20]}. "
                         "Pass smiles_col=<the column with SMILES>.")


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (content, not modification time)."""
    digest = hashlib.sha256()  # hashlib.file_digest would need Python 3.11
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- one pass over a file (single process, and gzip inputs on a cluster) -------------------
def iter_chunks(f: InputFile, size: int) -> Iterator[pa.Table]:
    """The file's chunks of ``size`` rows, in order; an empty file yields one empty table."""
    if f.kind == ".parquet":
        chunks = _parquet_chunks(f.path, size)
    elif f.kind in _TEXT_SEPARATORS:
        chunks = _text_chunks(f.path, _TEXT_SEPARATORS[f.kind], size)
    else:
        chunks = _smiles_chunks(f, size)
    empty = True
    for table in chunks:
        empty = False
        yield table
    if empty:
        yield empty_table(f)


def empty_table(f: InputFile) -> pa.Table:
    """A zero-row table with the file's columns and types."""
    if f.kind == ".parquet":
        return pq.ParquetFile(f.path).schema_arrow.empty_table()
    return pa.table({c: pa.array([], pa.string()) for c in f.columns})


def _text_table(frame: pd.DataFrame) -> pa.Table:
    return pa.table({c: pa.array(frame[c].to_numpy(dtype=object), type=pa.string()) for c in frame.columns})


def _read_csv_options(sep: str) -> dict:
    # Every field as text: per-chunk type inference could type a column differently in two
    # chunks (an id that looks numeric for the first 10,000 rows), breaking one output schema.
    # Blank lines are kept as (invalid) rows so that row numbers match the file's lines.
    return {"sep": sep, "dtype": str, "na_filter": False, "keep_default_na": False, "skip_blank_lines": False}


def _text_chunks(path: Path, sep: str, size: int) -> Iterator[pa.Table]:
    with pd.read_csv(path, chunksize=size, **_read_csv_options(sep)) as chunks:
        for frame in chunks:
            if not frame.empty:  # a header-only file yields one empty frame
                yield _text_table(frame)


def _smiles_rows(lines, smiles_col: str) -> pa.Table:
    smiles, names = [], []
    for line in lines:
        fields = line.rstrip("\r\n").split(None, 1)
        smiles.append(fields[0] if fields else "")
        names.append(fields[1].strip() if len(fields) > 1 else "")
    return pa.table({smiles_col: pa.array(smiles, pa.string()), "name": pa.array(names, pa.string())})


def _smiles_chunks(f: InputFile, size: int) -> Iterator[pa.Table]:
    opener = gzip.open if f.gz else open
    lines: list[str] = []
    with opener(f.path, "rt", encoding="utf-8") as handle:
        if f.header:
            handle.readline()
        for line in handle:
            lines.append(line)
            if len(lines) == size:
                yield _smiles_rows(lines, f.smiles_col)
                lines = []
    if lines:
        yield _smiles_rows(lines, f.smiles_col)


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


# ---- pieces: chunks located on the client, read on a worker --------------------------------
def plan_pieces(f: InputFile, file_index: int, size: int) -> list[Piece]:
    """Every chunk of a seekable file as a :class:`Piece` (one pass over its bytes or metadata).

    Text files are cut at line breaks: a quoted CSV field that spans lines is not supported here
    (:func:`read_piece` notices the row count differs and says so).
    """
    if f.kind == ".parquet":
        n = pq.ParquetFile(f.path).metadata.num_rows
        bounds = [(start, min(start + size, n)) for start in range(0, n, size)] or [(0, 0)]
        return [Piece(file_index, k, a, b - a, a, b) for k, (a, b) in enumerate(bounds)]
    starts, n_rows = _line_starts(f.path, size, skip=1 if f.header else 0)
    last = len(starts) - 2
    return [Piece(file_index, k, k * size, size if k < last else n_rows - k * size, starts[k], starts[k + 1])
            for k in range(last + 1)]


def _line_starts(path: Path, size: int, skip: int) -> tuple[list[int], int]:
    """Byte offsets where data rows ``0, size, 2 size, ...`` start (+ the file end), and the row count.

    Lines end at ``\\n``; a last line without one still counts; the first ``skip`` lines are a header.
    """
    offsets = [0] if skip == 0 else []  # line 0 starts at byte 0
    newlines, position, last_byte = 0, 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            # the j-th newline of this block ends line newlines + j; the next line starts after it
            rows = newlines + 1 + np.arange(len(ends)) - skip
            offsets += (position + ends[(rows >= 0) & (rows % size == 0)] + 1).tolist()
            newlines += len(ends)
            position += len(block)
            last_byte = block[-1:]
    n_rows = max(0, newlines + (position > 0 and last_byte != b"\n") - skip)
    offsets = [o for o in offsets if o < position]  # a line "starting" at the end of the file is none
    return [*offsets, position] if offsets else [position, position], n_rows


def read_piece(f: InputFile, piece: Piece) -> pa.Table:
    """The rows of ``piece``, exactly as :func:`iter_chunks` gives chunk ``piece.chunk``."""
    if f.kind == ".parquet":
        table = _parquet_rows(f.path, piece.start, piece.stop)
    else:
        with open(f.path, "rb") as handle:
            handle.seek(piece.start)
            data = handle.read(piece.stop - piece.start)
        if f.kind in _TEXT_SEPARATORS:
            frame = pd.read_csv(io.BytesIO(data), header=None, names=list(f.columns),
                                **_read_csv_options(_TEXT_SEPARATORS[f.kind])) if data else pd.DataFrame(
                columns=list(f.columns))
            table = _text_table(frame) if len(frame) else empty_table(f)
        else:
            table = _smiles_rows(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"), f.smiles_col)
    if table.num_rows != piece.n_rows:
        raise ValueError(f"{f.path}: rows {piece.first_row + 1}-{piece.first_row + piece.n_rows} parse into "
                         f"{table.num_rows} rows, not {piece.n_rows}: a field spans several lines (quoted line "
                         "break) or lines end in a lone carriage return. Such a file can only be read in one pass: "
                         "run without a scheduler, or gzip it (a .gz input is read by one worker in one pass).")
    return table


def _parquet_rows(path: Path, start: int, stop: int) -> pa.Table:
    source = pq.ParquetFile(path)
    meta = source.metadata
    groups, first, offset = [], None, 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if offset < stop and offset + n > start:
            groups.append(g)
            first = offset if first is None else first
        offset += n
    if not groups:
        return source.schema_arrow.empty_table()
    return source.read_row_groups(groups).slice(start - first, stop - start)
