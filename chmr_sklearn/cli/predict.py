"""``chmr predict``: apply a model saved by ``chmr fit`` to one or many tables of SMILES, streaming.

The output keeps every input column, as written, in the input's row order, and adds one column
per target: ``<target>_proba`` (probability of label 1) for a classifier, ``<target>_pred`` for
a regressor. Rows with invalid SMILES (``--on-invalid nan``) get empty predictions. The input is
read ``--chunk-size`` rows at a time (memory does not grow with the file) through
:func:`chmr_sklearn.streaming.predict_file`, here or on a Dask cluster (``--scheduler``), and an
interrupted run resumes from the chunks already written.
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
    verbosity,
)
from .embed import INPUT_SUFFIXES, add_stream_options, check_output, expand_input_files, invalid_rows_message
from .fit import MODEL_SUFFIXES

HELP = "predict with a model saved by chmr fit"
OUTPUT_SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")
_SHOWN_COLUMNS = 30


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr predict`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["m.joblib", "in.csv", "-o", "preds.csv"])
    >>> args.model, args.inputs, args.smiles_col, args.on_invalid, args.scheduler
    ('m.joblib', ['in.csv'], None, 'raise', None)
    """
    parser = sub.add_parser("predict", help=HELP, description=HELP + "; input columns and row order are kept. "
                            "Rerun the same command to resume.")
    parser.add_argument("model", metavar="MODEL.joblib", help="a model written by chmr fit")
    parser.add_argument("inputs", nargs="+", metavar="IN",
                        help="tables with a SMILES column (.csv, .tsv, .smi, .txt, optionally .gz, or .parquet); "
                             "several files or a quoted glob go to one output, in order")
    parser.add_argument("-o", "--output", required=True, metavar="PREDS",
                        help="output table (.csv, .tsv, .parquet, .csv.gz, .tsv.gz) or a directory (no suffix) of "
                             "Parquet parts: the input columns + one column per target")
    parser.add_argument("--smiles-col", default=None, metavar="COL",
                        help="SMILES column (default: the one the model was trained with)")
    add_stream_options(parser)
    add_cache_option(parser)
    add_on_invalid_option(parser)
    add_runtime_options(parser, device=False, seed=False)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _load_model(path: str):
    """The fitted CHMR estimator in ``path``, or a CLIError saying why it is not one.

    Loading runs pickle code: only load model files you trust (as with any joblib file).
    """
    import joblib
    from sklearn.utils.validation import check_is_fitted

    from ..estimators import CHMRClassifier, CHMRRegressor

    path = check_input_file(path, MODEL_SUFFIXES, what="model file")
    try:
        model = joblib.load(path)
    except Exception as err:
        raise CLIError(f"{str(path)!r} is not a chmr model file (joblib cannot read it: "
                       f"{type(err).__name__}: {err}).") from err
    if not isinstance(model, (CHMRClassifier, CHMRRegressor)):
        raise CLIError(f"{str(path)!r} holds a {type(model).__name__}, not a CHMRClassifier / CHMRRegressor "
                       "written by chmr fit.")
    try:
        check_is_fitted(model, "heads_")
    except Exception as err:  # sklearn's NotFittedError
        raise CLIError(f"{str(path)!r} holds an unfitted {type(model).__name__}.") from err
    if isinstance(model.transformer, str) and model.transformer == "passthrough":
        raise CLIError(f"{str(path)!r} was trained on precomputed embeddings (transformer='passthrough'); "
                       "chmr predict needs a model that embeds SMILES itself.")
    return model


def _check_columns(sources, smiles_col: str, columns: list[str]) -> None:
    """The SMILES column is there and no input column has a prediction column's name (header only)."""
    from ..streaming._files import read_columns

    for source in sources:
        try:
            names = read_columns(source, smiles_col)
        except (ValueError, OSError) as err:
            raise CLIError(f"cannot read input file {str(source)!r}: {str(err).strip().splitlines()[0]}") from err
        if smiles_col not in names:
            shown = ", ".join(names[:_SHOWN_COLUMNS]) + (" ..." if len(names) > _SHOWN_COLUMNS else "")
            raise CLIError(f"input file {str(source)!r} has no column(s) {smiles_col!r}; available columns: {shown}.")
        clash = [c for c in columns if c in names]
        if clash:
            raise CLIError(f"input file {str(source)!r} already has the prediction column(s) {clash}; rename them.")


def _run(args: argparse.Namespace) -> int:
    """Load the model, predict chunk by chunk, write the table."""
    from ..streaming import InvalidRowsError, predict_file
    from ..streaming._jobs import prediction_columns

    output = check_output(args.output, OUTPUT_SUFFIXES)
    sources = expand_input_files(args.inputs, INPUT_SUFFIXES)
    model = _load_model(args.model)
    smiles_col = args.smiles_col or model.smiles_col
    columns = prediction_columns(model)
    _check_columns(sources, smiles_col, columns)

    # The input policy and workers are this run's choice, not the training run's.
    # Plain attributes, not set_params: a model pickled by another version may lack a newer parameter.
    for estimator in (model, model.transformer_):
        estimator.on_invalid, estimator.n_jobs = args.on_invalid, args.n_jobs
    model.transformer_.cache_dir, model.transformer_.verbose = args.cache_dir, verbosity(args)
    try:
        summary = predict_file(model, sources, output, smiles_col=smiles_col, chunk_size=args.chunk_size,
                               resume=not args.no_resume, verbose=verbosity(args), scheduler=args.scheduler)
    except InvalidRowsError as err:
        raise CLIError(f"{invalid_rows_message(err, smiles_col)}; fix or remove them, or pass --on-invalid nan to "
                       "keep them with empty outputs.") from err
    note = f" ({summary.n_invalid} invalid SMILES left empty)" if summary.n_invalid else ""
    print(f"wrote {summary.n_rows} row(s) with {', '.join(columns)} to {output}{note}")
    return 0
