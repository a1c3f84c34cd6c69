"""Embed or predict whole molecule files, chunk by chunk, in bounded memory, resumably, here or on a cluster.

:func:`embed_file` (a fitted :class:`~chmr_sklearn.CHMRTransformer`) and :func:`predict_file`
(a fitted :class:`~chmr_sklearn.CHMRClassifier` / :class:`~chmr_sklearn.CHMRRegressor`) read
one or many files (CSV / TSV / SMILES, optionally gzip-compressed, or Parquet; a glob pattern
is allowed) ``chunk_size`` rows at a time and write each finished chunk as its own Parquet
*part*, next to a ``_manifest.json`` that identifies the run (input content hashes, chunk size,
output settings and everything that changes the numbers). When every chunk is done the parts
are copied, one row group at a time, into the output file (Parquet, CSV or TSV, optionally
gzip), which appears atomically; an output *directory* keeps the parts instead (a Parquet
dataset, marked complete by ``_SUCCESS``).

Why parts and not one growing file: a Parquet file is only readable once its footer is
written, so an interrupted writer leaves nothing to resume from; a part is renamed into
place only when complete, so after an interruption (Ctrl-C, a killed job or worker) a rerun
skips every finished chunk. A run whose manifest differs (other input, model or settings)
never reuses the parts: it stops with an error, and ``resume=False`` starts over.

``scheduler=`` (a ``distributed.Client`` or a scheduler address) runs the chunks as tasks on a
Dask cluster (install ``chmr_sklearn[dask]``): each worker unpickles the model once, reads its
chunks from the shared file system and writes its parts there; the output has the same rows, in
the same order, bit for bit, as the single-process run.

Memory is independent of the number of rows: one input chunk, its outputs and one row group
are held at a time (per worker thread on a cluster), and the transformer's in-memory cache is
not used here (its persistent ``cache_dir``, when set, is).
"""

from __future__ import annotations

from ._files import check_same_columns, empty_table, expand_inputs, iter_chunks, open_input, plan_pieces, read_piece
from ._jobs import EmbedJob, PredictJob
from ._run import EmbedSummary, InvalidRowsError, check_chunk_size, run

__all__ = ["EmbedSummary", "InvalidRowsError", "embed_file", "predict_file", "read_chunks"]

_SCHEDULER_DOC = """scheduler : None, distributed.Client or str, default=None
        ``None``: this process. A client, or a scheduler address (``"tcp://host:8786"``): one Dask
        task per chunk (per file for gzip inputs) on that cluster; every worker must see the input
        and output paths (a shared file system) and loads the model once."""


def embed_file(transformer, input_path, output_path, *, smiles_col: str = "smiles", codes: bool = False,
               chunk_size: int = 10_000, resume: bool = True, verbose: int = 0, scheduler=None) -> EmbedSummary:
    """Embed every molecule of one or many files into a Parquet or CSV file, chunk by chunk.

    Parameters
    ----------
    transformer : CHMRTransformer
        A fitted transformer; its ``output``, ``on_invalid``, ``n_jobs``, ``device``,
        ``precision`` and ``cache_dir`` are used (its in-memory cache is not, to keep memory
        flat; on a cluster ``n_jobs`` is 1 per task: the workers are the parallelism).
    input_path : str, Path, glob pattern or list of them
        ``.csv``, ``.tsv``, ``.smi`` or ``.txt`` (each optionally ``.gz``), or ``.parquet``.
        CSV/TSV need a header with ``smiles_col``; their columns are copied as text, exactly
        as written. A ``.smi``/``.txt`` line is ``SMILES [name ...]`` (whitespace-separated),
        read into the columns ``smiles_col`` and ``name``; a first line whose first field is
        ``smiles_col`` (any case) is a header. Several files (a pattern expands in name order)
        need the same columns; their rows follow each other in the output, in input order.
    output_path : str or Path
        ``.parquet``, ``.csv``, ``.tsv``, ``.csv.gz`` or ``.tsv.gz``, written only when every
        chunk is done; or a directory (no suffix), which keeps the Parquet parts
        ``part-FFFFF-CCCCCC.parquet`` (input file, chunk: name order is row order). Every input
        column (the SMILES included) comes first, then the embedding columns
        (:meth:`CHMRTransformer.get_feature_names_out`), then, with ``codes``,
        ``tree_code_0 ...``.
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
        1: one line per chunk (per task on a cluster) on stderr; 2: also the featurizers'
        progress bars (here only).
    {scheduler}

    Returns
    -------
    EmbedSummary

    Raises
    ------
    InvalidRowsError
        ``on_invalid="raise"`` and some rows are invalid: the message lists every one by its
        1-based row number in its file. The output is not written; the chunks finished without
        invalid rows are kept, and a rerun with ``on_invalid="nan"`` reuses them.
    ValueError
        Unknown file type, missing column, inputs with different columns, empty input, or
        parts left by a run with other settings (pass ``resume=False``).

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
    job = EmbedJob(transformer, codes=codes, verbose=verbose)
    return run(job, input_path, output_path, smiles_col=smiles_col, chunk_size=chunk_size, resume=resume,
               verbose=verbose, scheduler=scheduler)


def predict_file(estimator, input_path, output_path, *, smiles_col: str | None = None, chunk_size: int = 10_000,
                 resume: bool = True, verbose: int = 0, scheduler=None) -> EmbedSummary:
    """Predict every molecule of one or many files with a fitted CHMR model, chunk by chunk.

    The output keeps every input column, as written, in the input's row order, then one column
    per task: ``<task>_proba`` (a classifier's probability of label 1) or ``<task>_pred`` (a
    regressor's prediction), float64; invalid rows (``on_invalid="nan"``) get NaN. Memory is
    bounded by ``chunk_size``: the input is never read whole.

    Parameters
    ----------
    estimator : CHMRClassifier or CHMRRegressor
        Fitted, with its own transformer (not ``"passthrough"``); its ``on_invalid`` and
        ``n_jobs`` apply, its ``memory`` is not used.
    input_path : str, Path, glob pattern or list of them
        As for :func:`embed_file`. A model fitted on a DataFrame needs its columns.
    output_path : str or Path
        As for :func:`embed_file`.
    smiles_col : str, optional
        Column holding the SMILES; default: the estimator's ``smiles_col``.
    chunk_size : int, default=10_000
        Rows read, embedded, predicted and written at a time.
    resume : bool, default=True
        Reuse the chunks finished by an earlier, interrupted run with the same manifest.
    verbose : int, default=0
        As for :func:`embed_file`.
    {scheduler}

    Returns
    -------
    EmbedSummary

    Raises
    ------
    InvalidRowsError
        ``on_invalid="raise"`` and some rows are invalid (every one listed by file and row).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> from chmr_sklearn import CHMRRegressor, CHMRTransformer
    >>> from chmr_sklearn.streaming import predict_file
    >>> X = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "CC(=O)O", "CCN"]
    >>> model = CHMRRegressor(CHMRTransformer(output="anchor"), max_epochs=2, random_state=0).fit(X, [0, 1, 2, 3, 4, 5])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "new.csv").write_text("id,smiles\\n7,CCCCCO\\n8,c1ccccc1N\\n")
    ...     summary = predict_file(model, Path(d, "new.csv"), Path(d, "preds.csv"))
    ...     out = pd.read_csv(Path(d, "preds.csv"))
    >>> list(out.columns), summary.n_rows
    (['id', 'smiles', 'target_pred'], 2)
    """
    job = PredictJob(estimator, verbose=verbose)
    col = estimator.smiles_col if smiles_col is None else smiles_col
    if not isinstance(col, str):
        raise ValueError(f"smiles_col must name a column of the file, got {col!r}.")
    return run(job, input_path, output_path, smiles_col=col, chunk_size=chunk_size, resume=resume,
               verbose=verbose, scheduler=scheduler)


def read_chunks(input_path, *, smiles_col: str = "smiles", chunk_size: int = 10_000):
    """The input file(s) as a lazy ``dask.dataframe``, one partition per chunk of :func:`embed_file`.

    Partition *k* of a file holds exactly the rows of its chunk *k* (columns as
    :func:`embed_file` copies them: text as written, Parquet with its types); the index counts
    rows from 0 within each file. A gzip file cannot be read from the middle, so it is one
    partition. Use it to run your own per-partition code on the same partitions, e.g.
    ``read_chunks(...).map_partitions(...)``; needs ``chmr_sklearn[dask]``.

    Parameters
    ----------
    input_path : str, Path, glob pattern or list of them
        As for :func:`embed_file`.
    smiles_col : str, default="smiles"
        The column that must be present (a SMILES file's first column gets this name).
    chunk_size : int, default=10_000
        Rows per partition.

    Returns
    -------
    dask.dataframe.DataFrame

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "in.smi").write_text("CCO ethanol\\nc1ccccc1O phenol\\nCCN\\n")
    ...     frame = read_chunks(Path(d, "in.smi"), chunk_size=2)
    ...     print(frame.npartitions, frame.compute(scheduler="sync")["smiles"].tolist())
    2 ['CCO', 'c1ccccc1O', 'CCN']
    """
    try:
        import dask.dataframe as dd
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(f"read_chunks needs dask: pip install 'chmr_sklearn[dask]'. ({err})") from err
    check_chunk_size(chunk_size)
    files = [open_input(p, smiles_col) for p in expand_inputs(input_path)]
    check_same_columns(files)
    units = []
    for i, f in enumerate(files):
        units += [(f, piece) for piece in plan_pieces(f, i, chunk_size)] if f.seekable else [(f, None)]
    meta = empty_table(files[0]).to_pandas()
    return dd.from_map(_partition, units, meta=meta, enforce_metadata=False)


def _partition(unit):
    import pandas as pd
    import pyarrow as pa

    f, piece = unit
    if piece is None:  # a gzip file: all its chunks, in one pass
        table = pa.concat_tables(list(iter_chunks(f, 1 << 16)))
        return table.to_pandas()
    frame = read_piece(f, piece).to_pandas()
    frame.index = pd.RangeIndex(piece.first_row, piece.first_row + len(frame))
    return frame


embed_file.__doc__ = embed_file.__doc__.replace("{scheduler}", _SCHEDULER_DOC)
predict_file.__doc__ = predict_file.__doc__.replace("{scheduler}", _SCHEDULER_DOC)
