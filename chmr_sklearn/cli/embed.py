"""``chmr embed``: embed every molecule of a file, chunk by chunk, into .parquet or .csv.

A thin front end of :func:`chmr_sklearn.streaming.embed_file`: the input is read in chunks,
non-SMILES columns are copied ahead of the embedding columns, and an interrupted run resumes
from the chunks already written when the same command is run again.
"""

from __future__ import annotations

import argparse

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

HELP = "embed the molecules of a file with a (pretrained) CHMR encoder"
INPUT_SUFFIXES = (".csv", ".tsv", ".smi", ".txt", ".csv.gz", ".tsv.gz", ".smi.gz", ".txt.gz", ".parquet")
OUTPUT_SUFFIXES = (".parquet", ".csv")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr embed`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["in.csv", "-o", "out.parquet", "--codes"])
    >>> args.out, args.output, args.codes
    ('out.parquet', 'concat', True)
    """
    parser = sub.add_parser("embed", help=HELP, description=HELP + ". Rerun the same command to resume.")
    parser.add_argument("input", metavar="IN", help="molecules (.csv, .tsv, .smi, .txt, optionally .gz, or .parquet)")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output file (.parquet or .csv)")
    parser.add_argument("--smiles-col", default="smiles", metavar="COL", help="SMILES column (default: smiles)")
    parser.add_argument("--output", choices=("concat", "anchor", "latents"), default="concat",
                        help="concat: fingerprint + three latents (2091 columns, default); anchor: their sum "
                             "(300); latents: the three latents (900)")
    parser.add_argument("--codes", action="store_true", help="also write each molecule's tree-code path")
    parser.add_argument("--chunk-size", type=positive_int, default=10_000, metavar="N",
                        help="molecules read, embedded and written at a time (default: %(default)s)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh instead of skipping written chunks")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="encoder: a .pt checkpoint or a chmr pretrain directory (default: the shipped model)")
    add_cache_option(parser)
    add_on_invalid_option(parser)
    add_runtime_options(parser)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    """Embed the file and print a one-line summary."""
    from ..estimators import CHMRTransformer
    from ..streaming import InvalidRowsError, embed_file

    source = check_input_file(args.input, INPUT_SUFFIXES, what="input file")
    out = check_suffix(args.out, OUTPUT_SUFFIXES, what="output file (-o)")
    transformer = CHMRTransformer(pretrained=resolve_model_path(args.model), output=args.output,
                                  on_invalid=args.on_invalid, n_jobs=args.n_jobs, device=args.device,
                                  random_state=args.seed, cache_dir=args.cache_dir, verbose=verbosity(args))
    # A pretrained encoder's fit only loads the checkpoint; the molecule is a placeholder.
    transformer.fit(["C"])
    try:
        # verbose=2: a line per chunk and the featurizers' progress bars (unless --quiet)
        summary = embed_file(transformer, source, out, smiles_col=args.smiles_col, codes=args.codes,
                             chunk_size=args.chunk_size, resume=not args.no_resume, verbose=2 * verbosity(args))
    except InvalidRowsError as err:
        rows = ", ".join(map(str, err.rows[:20])) + (f", ... ({len(err.rows) - 20} more)" if len(err.rows) > 20 else "")
        raise CLIError(f"invalid SMILES in column {args.smiles_col!r} of {str(source)!r} at {len(err.rows)} data "
                       f"row(s) [{rows}] (data rows count from 1 after the header); fix or remove them, or pass "
                       "--on-invalid nan to keep them with empty outputs (chunks finished before the first "
                       "invalid row are kept for that rerun).") from err
    skipped = f", {summary.n_chunks_skipped} already written" if summary.n_chunks_skipped else ""
    invalid = f", {summary.n_invalid} invalid SMILES left empty" if summary.n_invalid else ""
    print(f"embedded {summary.n_rows} row(s) in {summary.n_chunks} chunk(s){skipped}{invalid} "
          f"in {summary.seconds:.1f} s -> {summary.output_path}")
    return 0
