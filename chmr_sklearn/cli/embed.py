"""``chmr embed``: embed every molecule of one or many files, chunk by chunk, into .parquet or .csv.

A thin front end of :func:`chmr_sklearn.streaming.embed_file`: the inputs are read in chunks,
non-SMILES columns are copied ahead of the embedding columns, and an interrupted run resumes
from the chunks already written when the same command is run again. ``--scheduler ADDRESS``
runs the chunks on a Dask cluster (``pip install chmr_sklearn[dask]``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    CLIError,
    add_cache_option,
    add_on_invalid_option,
    add_runtime_options,
    add_verbosity_options,
    check_input_file,
    check_suffix,
    positive_int,
    resolve_model_path,
    verbosity,
)

HELP = "embed the molecules of one or many files with a (pretrained) CHMR encoder"
INPUT_SUFFIXES = (".csv", ".tsv", ".smi", ".txt", ".csv.gz", ".tsv.gz", ".smi.gz", ".txt.gz", ".parquet")
OUTPUT_SUFFIXES = (".parquet", ".csv", ".tsv", ".csv.gz", ".tsv.gz")
_SHOWN = 20


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr embed`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["in.csv", "more/*.csv", "-o", "out.parquet", "--codes"])
    >>> args.inputs, args.out, args.output, args.codes, args.scheduler
    (['in.csv', 'more/*.csv'], 'out.parquet', 'concat', True, None)
    """
    parser = sub.add_parser("embed", help=HELP, description=HELP + ". Rerun the same command to resume.")
    parser.add_argument("inputs", nargs="+", metavar="IN",
                        help="molecules (.csv, .tsv, .smi, .txt, optionally .gz, or .parquet); several files or a "
                             "quoted glob ('lib/*.smi.gz') go to one output, in order")
    parser.add_argument("-o", "--out", required=True, metavar="OUT",
                        help="output file (.parquet, .csv, .tsv, .csv.gz, .tsv.gz) or a directory (no suffix) "
                             "that keeps the Parquet parts")
    parser.add_argument("--smiles-col", default="smiles", metavar="COL", help="SMILES column (default: smiles)")
    parser.add_argument("--output", choices=("concat", "anchor", "latents"), default="concat",
                        help="concat: fingerprint + three latents (2091 columns, default); anchor: their sum "
                             "(300); latents: the three latents (900)")
    parser.add_argument("--codes", action="store_true", help="also write each molecule's tree-code path")
    add_stream_options(parser)
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="encoder: a .pt checkpoint or a chmr pretrain directory (default: the shipped model)")
    parser.add_argument("--precision", choices=("float32", "float64"), default="float32",
                        help="encoder arithmetic; float64 is slower and bit-for-bit independent of batching and "
                             "of the machine's thread count (default: float32)")
    add_cache_option(parser)
    add_on_invalid_option(parser)
    add_runtime_options(parser)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    """``--chunk-size``, ``--no-resume`` and ``--scheduler``, shared by ``chmr embed`` and ``chmr predict``."""
    parser.add_argument("--chunk-size", type=positive_int, default=10_000, metavar="N",
                        help="molecules read, computed and written at a time; bounds memory (default: %(default)s)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh instead of skipping written chunks")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the chunks on the Dask cluster of this scheduler (tcp://host:8786); its workers "
                             "must see the input and output paths (needs chmr_sklearn[dask])")


def expand_input_files(patterns: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    """The input files of ``patterns`` (paths or quoted globs), each checked, or a CLIError."""
    from ..streaming._files import expand_inputs

    try:
        paths = expand_inputs(patterns)
    except FileNotFoundError as err:
        raise CLIError(f"{err}".replace("No input file matches", "no input file matches").rstrip(".") + ".") from err
    return [check_input_file(p, suffixes, what="input file") for p in paths]


def check_output(out: str, suffixes: tuple[str, ...]) -> Path:
    """An output file with an allowed suffix, or a directory (no suffix)."""
    path = Path(out)
    if not path.suffix or path.is_dir():
        return path
    return check_suffix(path, suffixes, what="output file (-o)")


def invalid_rows_message(err, smiles_col: str) -> str:
    """Every file's invalid rows as ``'f.csv' at 2 data row(s) [2: 'xyz', ...]``."""
    parts = []
    for path, entries in err.entries.items():
        shown = ", ".join(f"{row}: {_short(value)}" for row, value in list(entries.items())[:_SHOWN])
        more = f", ... ({len(entries) - _SHOWN} more)" if len(entries) > _SHOWN else ""
        parts.append(f"{str(path)!r} at {len(entries)} data row(s) [{shown}{more}]")
    return f"invalid SMILES in column {smiles_col!r} of {'; of '.join(parts)} (data rows count from 1 after the header)"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _run(args: argparse.Namespace) -> int:
    """Embed the files and print a one-line summary."""
    from ..estimators import CHMRTransformer
    from ..streaming import InvalidRowsError, embed_file

    sources = expand_input_files(args.inputs, INPUT_SUFFIXES)
    out = check_output(args.out, OUTPUT_SUFFIXES)
    transformer = CHMRTransformer(pretrained=resolve_model_path(args.model), output=args.output,
                                  on_invalid=args.on_invalid, n_jobs=args.n_jobs, device=args.device,
                                  random_state=args.seed, cache_dir=args.cache_dir, precision=args.precision,
                                  verbose=verbosity(args))
    # A pretrained encoder's fit only loads the checkpoint; the molecule is a placeholder.
    transformer.fit(["C"])
    try:
        # verbose=2: a line per chunk and the featurizers' progress bars (unless --quiet)
        summary = embed_file(transformer, sources, out, smiles_col=args.smiles_col, codes=args.codes,
                             chunk_size=args.chunk_size, resume=not args.no_resume, verbose=2 * verbosity(args),
                             scheduler=args.scheduler)
    except InvalidRowsError as err:
        raise CLIError(f"{invalid_rows_message(err, args.smiles_col)}; fix or remove them, or pass --on-invalid nan "
                       "to keep them with empty outputs (chunks finished without invalid rows are kept for that "
                       "rerun).") from err
    print(f"embedded {summary.n_rows} row(s) in {summary.n_chunks} chunk(s){_details(summary)} "
          f"in {summary.seconds:.1f} s -> {summary.output_path}")
    return 0


def _details(summary) -> str:
    files = f" of {summary.n_files} files" if summary.n_files > 1 else ""
    skipped = f", {summary.n_chunks_skipped} already written" if summary.n_chunks_skipped else ""
    invalid = f", {summary.n_invalid} invalid SMILES left empty" if summary.n_invalid else ""
    return files + skipped + invalid
