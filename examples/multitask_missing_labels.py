"""Multi-task learning with missing labels: ChEMBL2K's 41 assays
=============================================================

ChEMBL2K (InfoAlign's benchmark) has 2,355 compounds and 41 binary ChEMBL targets, but each
compound was tested on only a few of them: 83 % of the label matrix is NaN. Dropping rows with
any missing label would leave nothing; imputing negatives would teach the model wrong answers.

:class:`CHMRClassifier` takes the label matrix as it is (NaN = not measured): one shared head
predicts all 41 tasks, its loss uses the labelled entries only, and ``score`` /
:func:`~chmr_sklearn.model_selection.roc_auc_per_task` evaluate each task on its own labelled
molecules (a task whose test molecules are all of one class has no ROC-AUC and is skipped).

Run ``python examples/multitask_missing_labels.py`` (all 2,355 molecules) or with ``--quick``
(every 16th molecule of each part: seconds; the documentation shows the quick run). Writes ``per_task_roc_auc.csv`` and
``per_task_roc_auc.png``.
"""

# %%
# Settings
# --------
# The example is a plain script: its options come from the command line.
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from chmr_sklearn import CHMRClassifier
from chmr_sklearn.datasets import load_chembl2k
from chmr_sklearn.model_selection import roc_auc_per_task, scaffold_split

parser = argparse.ArgumentParser(description="Multi-task CHMR on ChEMBL2K's 41 assays with missing labels.")
parser.add_argument("--quick", action="store_true", help="every 16th molecule, few epochs (seconds)")
parser.add_argument("--out", type=Path, default=Path(sys.argv[0]).resolve().parent / "output",
                    help="folder for the table and the figure (default: examples/output)")
parser.add_argument("--n-jobs", type=int, default=1, help="featurization worker processes")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# The label matrix and InfoAlign's scaffold split
# -----------------------------------------------
# The split is InfoAlign's (60/15/25, shuffled scaffold groups, seed 3 -> 1413 / 353 / 589
# molecules), given by the loader as ``bunch.split_protocol``. It is computed on the whole set
# (it is defined there), then thinned in quick mode. A task needs at least one training label
# to be learnt at all.
bunch = load_chembl2k()
X, Y = bunch.data, bunch.target
print(f"ChEMBL2K: {len(X)} molecules x {Y.shape[1]} tasks, {Y.isna().to_numpy().mean():.0%} of labels missing")
parts = scaffold_split(X, **bunch.split_protocol)
if args.quick:
    parts = tuple(part[::16] for part in parts)
train, valid, test = parts
tasks = [t for t in Y.columns if Y[t].iloc[train].notna().any()]
Y = Y[tasks]
print(f"InfoAlign scaffold split: {len(train)} train / {len(valid)} valid / {len(test)} test; "
      f"{len(tasks)} tasks have training labels")

# %%
# One head for all tasks
# ----------------------
# The NaN entries of ``Y`` are simply passed along: the loss skips them. The validation part
# drives early stopping (``validation_data=``), and ``predict_proba`` returns one probability
# column per task.
# Quick mode also shrinks the residual forests (one per task and head; default 500 trees).
clf = CHMRClassifier(hidden=256 if args.quick else 1200, max_epochs=15 if args.quick else 100,
                     rf_n_estimators=100 if args.quick else 500, n_jobs=args.n_jobs, random_state=args.seed)
clf.fit(X.iloc[train], Y.iloc[train], validation_data=(X.iloc[valid], Y.iloc[valid]))
proba = clf.predict_proba(X.iloc[test])  # (n_test, n_tasks) probabilities of class 1
auc = roc_auc_per_task(Y.iloc[test], proba)

# %%
# ROC-AUC per task
# ----------------
# Each task is scored on its own labelled test molecules. Tasks with few training labels are
# the hard ones.
Ytr, Yte = Y.iloc[train], Y.iloc[test]
table = pd.DataFrame({
    "task": tasks,
    "train_labels": Ytr.notna().sum().to_numpy(),
    "train_positives": (Ytr == 1).sum().to_numpy(),
    "test_labels": Yte.notna().sum().to_numpy(),
    "test_positives": (Yte == 1).sum().to_numpy(),
    "test_roc_auc": auc,
}).sort_values("train_labels", ascending=False)
print(table.to_string(index=False, float_format="{:.3f}".format))
scored = table.dropna(subset=["test_roc_auc"])
print(f"{len(scored)} of {len(tasks)} tasks have both classes among their test labels; "
      f"the others have no ROC-AUC")
print(f"mean test ROC-AUC over {len(scored)} tasks: {scored.test_roc_auc.mean():.3f} "
      f"(epochs run: {clf.n_epochs_})")
table.to_csv(args.out / "per_task_roc_auc.csv", index=False)

# %%
# Test ROC-AUC against the number of training labels
# --------------------------------------------------
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(scored.train_labels, scored.test_roc_auc, s=12 + 2 * scored.test_labels, alpha=0.7)
for row in scored.itertuples():
    ax.annotate(row.task, (row.train_labels, row.test_roc_auc), fontsize=6, alpha=0.8)
ax.axhline(0.5, color="grey", lw=0.8, ls="--")
ax.set_xscale("log")
ax.xaxis.set_major_formatter(ScalarFormatter())  # 10, 100 rather than 10^1, 10^2
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_xlabel("labelled training molecules of the task (log)")
ax.set_ylabel("test ROC-AUC")
ax.set_title("ChEMBL2K: per-task ROC-AUC (marker size ~ test labels)")
fig.tight_layout()
fig.savefig(args.out / "per_task_roc_auc.png", dpi=120)
print(f"wrote {args.out / 'per_task_roc_auc.csv'} and {args.out / 'per_task_roc_auc.png'}")
