"""Save, load and use a model from Python and from the command line
================================================================

A fitted :class:`CHMRRegressor` (or classifier) is one picklable object: the frozen encoder,
the head and the settings. ``joblib.dump`` writes it; ``joblib.load`` in another process, or on
another machine without a GPU, gives back a model that predicts exactly the same numbers
(embeddings are computed in float64, so not even the last bit changes).

The same models are available without writing Python: ``chmr fit`` trains one on a CSV and
saves a ``.joblib`` file, ``chmr predict`` applies a ``.joblib`` file to a CSV. The files are
interchangeable, so this example goes both ways:

1. Python: fit on RDKit's CHEMBL2321810 activity set (1,017 real molecules shipped with RDKit,
   pIC50-like activity), ``joblib.dump`` the model;
2. a fresh process, ``python -m chmr_sklearn predict model.joblib test.csv``, loads that file
   and predicts; its numbers must equal the in-process predictions;
3. ``python -m chmr_sklearn fit train.csv --target activity --task regression`` trains a model
   with the same settings and seed from the shell; Python loads it with ``joblib.load``. With the
   same seed it is the same model, so its predictions agree too.

(``chmr ...`` is the installed console script; ``python -m chmr_sklearn ...`` is the same
command and makes sure the current interpreter runs it.)

Run ``python examples/save_load_cli.py`` (all molecules) or with ``--quick`` (40 molecules,
10 epochs: seconds; the documentation shows the quick run). Writes ``train.csv``, ``test.csv``, ``model.joblib``, ``preds_fresh.parquet``
and ``model_cli.joblib``.
"""

# %%
# Settings
# --------
# The example is a plain script: its options come from the command line.
import argparse
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from chmr_sklearn import CHMRRegressor
from chmr_sklearn.datasets import load_chembl2321810
from chmr_sklearn.model_selection import mean_mae, scaffold_split

parser = argparse.ArgumentParser(description="Save, load and use a CHMR model from Python and from the CLI.")
parser.add_argument("--quick", action="store_true", help="40 molecules, 10 epochs (seconds)")
parser.add_argument("--out", type=Path, default=Path(sys.argv[0]).resolve().parent / "output",
                    help="folder for the CSV and model files (default: examples/output)")
parser.add_argument("--n-jobs", type=int, default=1, help="featurization worker processes")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)


def chmr(*cli_args: str) -> str:
    """Run ``python -m chmr_sklearn ARGS`` in a fresh process; its output, or the error it printed."""
    done = subprocess.run([sys.executable, "-m", "chmr_sklearn", *cli_args, "--quiet"], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"chmr {cli_args[0]} failed (exit code {done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


# %%
# The data, as CSV files
# ----------------------
# The test file holds no answers: it is what ``chmr predict`` will read.
frame = load_chembl2321810().frame
if args.quick:  # evenly spaced: the file is ordered by compound series
    frame = frame.iloc[np.linspace(0, len(frame) - 1, num=40).astype(int)].reset_index(drop=True)
train, _, test = scaffold_split(frame.smiles, sizes=(0.8, 0.0, 0.2))
train_csv, test_csv = args.out / "train.csv", args.out / "test.csv"
frame.iloc[train].to_csv(train_csv, index=False)
frame.iloc[test][["smiles", "id"]].to_csv(test_csv, index=False)
X_train, y_train = frame.smiles.iloc[train].to_numpy(), frame.activity.iloc[train].to_numpy()
X_test, y_test = frame.smiles.iloc[test].to_numpy(), frame.activity.iloc[test].to_numpy()
print(f"CHEMBL2321810 (RDKit): {len(frame)} molecules, scaffold split {len(train)} train / {len(test)} test")
epochs = 10 if args.quick else 100

# %%
# 1. Python: fit, predict, dump
# -----------------------------
tic = time.perf_counter()
model = CHMRRegressor(max_epochs=epochs, n_jobs=args.n_jobs, random_state=args.seed).fit(X_train, y_train)
pred = model.predict(X_test)
joblib.dump(model, args.out / "model.joblib")
print(f"[python] fitted and saved {args.out / 'model.joblib'} in {time.perf_counter() - tic:.1f} s; "
      f"test MAE {mean_mae(y_test, pred):.3f}")

# %%
# 2. A fresh process loads the file (through the CLI) and predicts
# ----------------------------------------------------------------
# Parquet keeps the float32 predictions exactly (a CSV would round them to text).
print("[fresh process] " + chmr("predict", str(args.out / "model.joblib"), str(test_csv),
                                "-o", str(args.out / "preds_fresh.parquet"), "--n-jobs", str(args.n_jobs)))
fresh = pd.read_parquet(args.out / "preds_fresh.parquet")
fresh_pred = fresh.filter(like="_pred").to_numpy()[:, 0]
print(f"max |in-process - fresh-process| prediction: {np.abs(fresh_pred - pred).max():.3g}")

# %%
# 3. The CLI trains a model with the same settings; Python loads and uses it
# --------------------------------------------------------------------------
# ``chmr fit`` trains on a target table, so its predictions have shape (n, 1).
print("[chmr fit] " + chmr("fit", str(train_csv), "--target", "activity", "--task", "regression",
                           "-o", str(args.out / "model_cli.joblib"), "--epochs", str(epochs),
                           "--seed", str(args.seed), "--n-jobs", str(args.n_jobs)).replace("\n", "; "))
cli_model = joblib.load(args.out / "model_cli.joblib")
cli_pred = cli_model.predict(X_test).ravel()
print(f"[python] loaded the CLI model: test MAE {mean_mae(y_test, cli_pred):.3f}; "
      f"max |python-trained - CLI-trained| prediction: {np.abs(cli_pred - pred).max():.3g}")
