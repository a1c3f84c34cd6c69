"""``chmr predict``: apply a model saved by ``chmr fit`` to a table of SMILES.

The output keeps every input column, as written, in the input's row order, and adds one column
per target: ``<target>_proba`` (probability of label 1) for a classifier, ``<target>_pred`` for
a regressor. Rows with invalid SMILES (``--on-invalid nan``) get empty predictions.
"""

from __future__ import annotations

import argparse

from ._common import (
    TABLE_SUFFIXES,
    CLIError,
    add_cache_option,
    add_on_invalid_option,
    add_runtime_options,
    add_verbosity_options,
    check_input_file,
    check_suffix,
    molecule_errors,
    positive_int,
    read_table,
    require_columns,
    verbosity,
    write_table,
)
from .fit import MODEL_SUFFIXES

HELP = "predict with a model saved by chmr fit"
OUTPUT_SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr predict`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["m.joblib", "in.csv", "-o", "preds.csv"])
    >>> args.model, args.smiles_col, args.on_invalid
    ('m.joblib', None, 'raise')
    """
    parser = sub.add_parser("predict", help=HELP, description=HELP + "; input columns and row order are kept.")
    parser.add_argument("model", metavar="MODEL.joblib", help="a model written by chmr fit")
    parser.add_argument("input", metavar="IN", help="table with a SMILES column (.csv, .tsv, .parquet; .gz allowed)")
    parser.add_argument("-o", "--output", required=True, metavar="PREDS",
                        help="output table (.csv, .tsv, .parquet): the input columns + one column per target")
    parser.add_argument("--smiles-col", default=None, metavar="COL",
                        help="SMILES column (default: the one the model was trained with)")
    parser.add_argument("--chunk-size", type=positive_int, default=10_000, metavar="N",
                        help="molecules embedded and predicted at a time; bounds memory (default: %(default)s)")
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
        check_is_fitted(model, "net_")
    except Exception as err:  # sklearn's NotFittedError
        raise CLIError(f"{str(path)!r} holds an unfitted {type(model).__name__}.") from err
    if isinstance(model.transformer, str) and model.transformer == "passthrough":
        raise CLIError(f"{str(path)!r} was trained on precomputed embeddings (transformer='passthrough'); "
                       "chmr predict needs a model that embeds SMILES itself.")
    return model


def _prediction_columns(model) -> list[str]:
    """One output column name per task: ``<target>_proba`` or ``<target>_pred``."""
    from ..estimators import CHMRClassifier

    suffix = "proba" if isinstance(model, CHMRClassifier) else "pred"
    names = model.task_names_ or (["target"] if model.n_tasks_ == 1 else [f"task{i}" for i in range(model.n_tasks_)])
    return [f"{name}_{suffix}" for name in names]


def _predict_table(model, frame, smiles_col: str):
    """Predictions ``(n_rows, n_tasks)`` for the molecules of ``frame[smiles_col]``."""
    import numpy as np

    from ..estimators import CHMRClassifier

    names = getattr(model, "feature_names_in_", None)
    # Models fitted in Python on a DataFrame expect the same columns; chmr fit passes the SMILES only.
    X = frame[list(names)] if names is not None else frame[smiles_col].to_numpy(dtype=object)
    if isinstance(model, CHMRClassifier):
        proba = model.predict_proba(X)
        return proba if model.multitask_ else proba[:, 1:]
    return np.asarray(model.predict(X)).reshape(len(frame), -1)


def _predict_chunks(model, frame, smiles_col: str, chunk_size: int):
    """:func:`_predict_table` ``chunk_size`` rows at a time: memory stays bounded on big files.

    An invalid molecule stops the predictions but not the scan: every invalid row of the file
    is found (by parsing alone) and reported in one :class:`InvalidMoleculeError`.
    """
    import numpy as np

    from .._inputs import InvalidMoleculeError, to_mol

    parts, bad = [], []
    for start in range(0, len(frame), chunk_size):
        chunk = frame.iloc[start : start + chunk_size]
        if bad:
            bad += [start + i for i, entry in enumerate(chunk[smiles_col]) if to_mol(entry) is None]
            continue
        try:
            parts.append(_predict_table(model, chunk, smiles_col))
        except InvalidMoleculeError as err:
            bad += [start + row for row in err.rows]
    if bad:
        raise InvalidMoleculeError(bad, frame[smiles_col].to_numpy(dtype=object))
    return np.concatenate(parts)


def _run(args: argparse.Namespace) -> int:
    """Load the model, predict, write the table."""
    import numpy as np

    output = check_suffix(args.output, OUTPUT_SUFFIXES, what="output file (-o)")
    check_input_file(args.input, TABLE_SUFFIXES, what="input file")
    model = _load_model(args.model)
    frame = read_table(args.input, as_text=True)
    smiles_col = args.smiles_col or model.smiles_col
    require_columns(frame, [smiles_col], args.input)
    columns = _prediction_columns(model)
    clash = [c for c in columns if c in frame.columns]
    if clash:
        raise CLIError(f"input file {args.input!r} already has the prediction column(s) {clash}; rename them.")

    # The input policy and workers are this run's choice, not the training run's.
    # Plain attributes, not set_params: a model pickled by another version may lack a newer parameter.
    for estimator in (model, model.transformer_):
        estimator.on_invalid, estimator.n_jobs = args.on_invalid, args.n_jobs
    model.transformer_.cache_dir, model.transformer_.verbose = args.cache_dir, verbosity(args)
    with molecule_errors(frame[smiles_col].to_numpy(dtype=object), smiles_col, args.input):
        predictions = _predict_chunks(model, frame, smiles_col, args.chunk_size)

    out = frame.copy()
    for j, name in enumerate(columns):
        out[name] = predictions[:, j]
    write_table(out, output)
    n_invalid = int(np.isnan(predictions).all(axis=1).sum())
    note = f" ({n_invalid} invalid SMILES left empty)" if n_invalid else ""
    print(f"wrote {len(out)} row(s) with {', '.join(columns)} to {output}{note}")
    return 0
