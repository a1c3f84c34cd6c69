"""``chmr fit``: train a CHMRClassifier / CHMRRegressor on a CSV and save it with joblib.

Every target column becomes one task of a single multi-task model; empty cells are missing
labels (ignored by the loss), so sparse assay tables train as they are. The saved file is the
fitted estimator itself: ``joblib.load(path).predict(smiles)`` works in Python too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ._common import (
    CLIError,
    add_cache_option,
    add_on_invalid_option,
    add_runtime_options,
    add_verbosity_options,
    check_suffix,
    molecule_errors,
    parse_numeric,
    positive_int,
    read_table,
    require_columns,
    resolve_model_path,
    verbosity,
)

HELP = "train a CHMR classifier / regressor on a CSV of SMILES and targets"
MODEL_SUFFIXES = (".joblib",)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr fit`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["train.csv", "--target", "a", "b", "--task", "classification", "-o", "m.joblib"])
    >>> args.target, args.task
    (['a', 'b'], 'classification')
    """
    parser = sub.add_parser("fit", help=HELP, description=HELP + ". Empty target cells are missing labels.")
    parser.add_argument("train", metavar="TRAIN", help="training table (.csv, .tsv, .parquet; .gz allowed)")
    parser.add_argument("--target", nargs="+", required=True, metavar="COL",
                        help="target column(s); several columns train one multi-task model")
    parser.add_argument("--task", choices=("classification", "regression"), required=True,
                        help="classification: 0/1 labels; regression: numbers")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.joblib", help="where the model is saved")
    parser.add_argument("--smiles-col", default="smiles", metavar="COL", help="SMILES column (default: smiles)")
    parser.add_argument("--epochs", type=positive_int, default=100, metavar="E",
                        help="maximum training epochs; early stopping on a 10%% validation split "
                             "(default: %(default)s)")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="pretrained encoder: a .pt checkpoint or a chmr pretrain directory "
                             "(default: the model shipped with chmr_sklearn)")
    add_cache_option(parser)
    add_on_invalid_option(parser)
    add_runtime_options(parser)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _read_targets(frame, targets: list[str], task: str, path):
    """Target columns as a float DataFrame (NaN = missing), checked for the task."""
    import numpy as np
    import pandas as pd

    if len(set(targets)) != len(targets):
        raise CLIError(f"--target lists a column twice: {targets}.")
    Y = pd.DataFrame({t: parse_numeric(frame, t, path) for t in targets})
    empty = [t for t in targets if Y[t].isna().all()]
    if empty:
        raise CLIError(f"target column(s) {', '.join(map(repr, empty))} of {str(path)!r} have no value at all "
                       "(every cell is empty or NaN).")
    if task == "classification":
        for t in targets:
            values = Y[t].dropna().unique()
            if not np.isin(values, (0.0, 1.0)).all():
                raise CLIError(f"classification target {t!r} of {str(path)!r} must hold 0/1 labels (empty for "
                               f"missing); found {sorted(values.tolist())[:10]}. Use --task regression for numbers.")
    elif np.isinf(Y.to_numpy()).any():
        raise CLIError(f"regression targets of {str(path)!r} contain inf.")
    return Y


def _run(args: argparse.Namespace) -> int:
    """Train and save the model; print what was learnt."""
    import joblib
    import numpy as np

    from ..estimators import CHMRClassifier, CHMRRegressor, CHMRTransformer

    output = check_suffix(args.output, MODEL_SUFFIXES, what="model file (-o)")
    model_path = resolve_model_path(args.model)
    frame = read_table(args.train, what="training file", as_text=True)
    require_columns(frame, [args.smiles_col, *args.target], args.train, what="training file")
    Y = _read_targets(frame, args.target, args.task, args.train)
    X = frame[args.smiles_col].to_numpy(dtype=object)

    verbose = verbosity(args)
    encoder = CHMRTransformer(pretrained=model_path, random_state=args.seed, cache_dir=args.cache_dir,
                              verbose=verbose)
    Estimator = CHMRClassifier if args.task == "classification" else CHMRRegressor
    estimator = Estimator(transformer=encoder, max_epochs=args.epochs, smiles_col=args.smiles_col,
                          on_invalid=args.on_invalid, n_jobs=args.n_jobs, device=args.device,
                          random_state=args.seed, verbose=verbose)
    with molecule_errors(X, args.smiles_col, args.train):
        estimator.fit(X, Y)  # a DataFrame y: the target names are kept as task_names_

    # The cache folder is this machine's choice, not part of the model (predict takes its own).
    estimator.transformer.set_params(cache_dir=None)
    estimator.transformer_.set_params(cache_dir=None)
    _save(estimator, output, joblib)
    labelled = ~np.isnan(Y.to_numpy()).all(axis=1)
    monitor, best = estimator.monitor_, ""
    if monitor is not None:
        scores = [h[monitor] for h in estimator.net_.history if monitor in h]
        value = max(scores) if monitor == "valid_roc_auc" else min(scores)
        best = f"; best validation {monitor.removeprefix('valid_')} {value:.3f}"
    skipped = " (rows with invalid SMILES skipped)" if args.on_invalid == "nan" else ""
    print(f"trained {Estimator.__name__}: {len(args.target)} target(s), {int(labelled.sum())} labelled row(s) "
          f"of {len(X)}{skipped}, {estimator.n_epochs_} epoch(s){best}")
    print(f"saved model to {output}")
    return 0


def _save(estimator, output: Path, joblib) -> None:
    # Write then rename: an interrupted dump never leaves a truncated model behind.
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    os.close(fd)
    try:
        joblib.dump(estimator, tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
